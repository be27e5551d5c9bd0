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
