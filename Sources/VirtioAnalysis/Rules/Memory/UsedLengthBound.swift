import GuestMemory
import VirtioModel

/// A used element's length is no more than the device-writable bytes of the chain it
/// returns: the device reports what it wrote, and it can write only there.
///
/// Spec: virtio v1.2 §2.7.8 ("len … the number of bytes written into the device writable
/// portion of the buffer"), §2.7.8.2 (1.1: §2.6.8, §2.6.8.2).
struct UsedLengthBound: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-USED-LEN-BOUND", severity: .error, section: "2.7.8.2", section11: "2.6.8.2",
        summary: "a used element's len is no more than the writable bytes of its chain",
        party: .device, evidence: "the used ring and the completed chains of a queue in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.completed.filter { UInt64($0.element.length) > $0.chain.writableBytes }.map {
            "used element \($0.usedIndex) (head \($0.element.id)) reports \($0.element.length) bytes written, "
                + "the chain has \($0.chain.writableBytes) writable"
        }
    }
}
