import GuestMemory
import VirtioModel

/// The descriptor table is 16-byte aligned, the available ring 2-byte, the used ring 4-byte.
///
/// Spec: virtio v1.2 §2.7.1 "The driver MUST ensure that the physical address of the first byte
/// of each virtqueue part is a multiple of the specified alignment value" (1.1: §2.6.1).
struct RingAlignment: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-ALIGN", severity: .error, section: "2.7.1", section11: "2.6.1",
        summary: "descriptor table 16-byte, available ring 2-byte, used ring 4-byte aligned",
        party: .driver, evidence: "the ring addresses of a queue in a dump or a recording")

    static func check(_ queue: QueueSnapshotContext) -> [String] { Self.judge(queue.addresses) }

    /// The parts of a split queue at `addresses` that are not aligned (a dump's, a recording's).
    static func judge(_ addresses: QueueAddresses) -> [String] {
        let parts: [(String, UInt64, UInt64)] = [
            ("descriptor table", addresses.descriptorArea, SplitRingLayout.descriptorAlignment),
            ("available ring", addresses.driverArea, SplitRingLayout.availAlignment),
            ("used ring", addresses.deviceArea, SplitRingLayout.usedAlignment),
        ]
        return parts.filter { !SplitRingLayout.isAligned($0.1, to: $0.2) }.map {
            "\($0.0) at 0x\(String($0.1, radix: 16)) is not \($0.2)-byte aligned"
        }
    }
}
