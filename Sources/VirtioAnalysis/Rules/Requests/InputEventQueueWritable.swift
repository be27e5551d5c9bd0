import GuestMemory
import VirtioModel

/// The input device's eventq holds device-writable buffers only.
///
/// Spec: virtio v1.2 §5.8.6.1 "The driver SHOULD keep the eventq populated with buffers. These
/// buffers MUST be device-writable and MUST be at least the size of struct virtio_input_event."
struct InputEventQueueWritable: SummaryRule {
    static let info = RuleInfo(
        id: "INPUT-EVENTQ-BUFS", severity: .error, section: "5.8.6.1",
        summary: "input eventq buffers are device-writable",
        party: .driver, evidence: "virtqueue_pop with out_num > 0 on input queue 0")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .input, role == .event else { return [] }
        return RequestShape.finding(queue.shapes.readableOnly, of: queue, "had device-readable buffers only")
            + RequestShape.finding(queue.shapes.mixed, of: queue, "had device-readable buffers")
    }
}

extension InputEventQueueWritable: SnapshotRule {
    /// In a dump: an owned eventq chain with a device-readable descriptor, or with fewer
    /// writable bytes than one `struct virtio_input_event` (8).
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .input, queue.role == .event else { return [] }
        return OwnedBuffers.readable(in: queue)
            + queue.wholeChains.filter { $0.writableBytes < 8 }.map {
                "chain at head \($0.head) has \($0.writableBytes) device-writable bytes, fewer than a virtio_input_event (8)"
            }
    }
}
