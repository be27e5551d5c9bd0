import GuestMemory
import VirtioModel

/// The descriptor ring is 16-byte aligned, the two event suppression structures 4-byte.
///
/// Spec: virtio v1.2 §2.8.10.1 "Structure Size and Alignment".
struct PackedAlignment: PackedRule {
    static let info = RuleInfo(
        id: "PACKED-ALIGN", severity: .error, section: "2.8.10.1", section11: "2.7.10.1",
        summary: "packed descriptor ring 16-byte aligned, event suppression structures 4-byte aligned",
        party: .driver, evidence: "the addresses of a packed queue (QMP, --queue, or a recording)")

    static func check(_ queue: PackedQueueContext) -> [String] { Self.judge(queue.addresses) }

    /// The parts of a packed queue at `addresses` that are not aligned (a dump's, a recording's).
    static func judge(_ addresses: QueueAddresses) -> [String] {
        let parts: [(String, UInt64, UInt64)] = [
            ("descriptor ring", addresses.descriptorArea, PackedRingLayout.descriptorAlignment),
            ("driver event suppression", addresses.driverArea, PackedRingLayout.eventSuppressionAlignment),
            ("device event suppression", addresses.deviceArea, PackedRingLayout.eventSuppressionAlignment),
        ]
        return parts.filter { $0.1 % $0.2 != 0 }.map {
            "\($0.0) at 0x\(String($0.1, radix: 16)) is not \($0.2)-byte aligned"
        }
    }
}
