import GuestMemory
import VirtioModel

/// Each buffer the driver places in the input device's statusq holds at least one
/// `struct virtio_input_event` (8 bytes) for the device to read.
///
/// Spec: virtio v1.2 §5.8.6.1 (1.1: §5.8.6.1) "Buffers placed into the statusq by a driver MUST
/// be at least the size of struct virtio_input_event."
struct InputStatusQueueBuffers: SnapshotRule {
    static let info = RuleInfo(
        id: "INPUT-STATUSQ-BUFS", severity: .error, section: "5.8.6.1", section11: "5.8.6.1",
        summary: "input statusq buffers hold at least one virtio_input_event (8 bytes)",
        party: .driver, evidence: "an owned statusq chain of an input device in a dump or a recording")

    /// `struct virtio_input_event`: le16 type, le16 code, le32 value (§5.8.6).
    static let eventSize: UInt64 = 8

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .input, queue.role == .status else { return [] }
        return queue.wholeChains.filter { $0.readableBytes < Self.eventSize }.map {
            "chain at head \($0.head) has \($0.readableBytes) device-readable bytes, fewer than a virtio_input_event (8)"
        }
    }
}
