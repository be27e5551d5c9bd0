import GuestMemory
import VirtioModel

/// A packed queue's size is 1 to 32768; unlike a split queue's it need not be a power of two.
///
/// Spec: virtio v1.2 §2.8 "Packed virtqueues support up to 2^15 entries each", §4.1.4.3.2
/// (the driver must not write 0 to `queue_size`).
struct PackedQueueSize: PackedRule {
    static let info = RuleInfo(
        id: "PACKED-QSIZE", severity: .error, section: "2.8", section11: "2.7",
        summary: "a packed queue's size is 1 to 32768 (not necessarily a power of two)",
        party: .driver, evidence: "the size of a packed queue (QMP or --queue)")

    static func check(_ queue: PackedQueueContext) -> [String] {
        PackedRingLayout(queueSize: Int(queue.addresses.size)).isValidSize
            ? [] : ["queue size \(queue.addresses.size) is not between 1 and 32768"]
    }
}
