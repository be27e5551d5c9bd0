import GuestMemory
import VirtioModel

/// A split queue's size is a power of two, at most 32768.
///
/// Spec: virtio v1.2 §2.7 "Queue Size … is a power of 2 … the maximum Queue Size value is 32768"
/// (1.1: §2.6); over PCI §4.1.4.3.2.
struct QueueSizePowerOfTwo: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-QSIZE-POW2", severity: .error, section: "2.7", section11: "2.6",
        summary: "a split queue's size is a power of two from 1 to 32768",
        party: .driver, evidence: "the queue size given for a dump (--queue size=N)")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        let size = Int(queue.addresses.size)
        guard !SplitRingLayout(queueSize: size).isValidSize else { return [] }
        return ["queue size \(size) is not a power of two from 1 to 32768"]
    }
}
