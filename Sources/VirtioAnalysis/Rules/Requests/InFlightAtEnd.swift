import VirtioModel

/// Requests still in flight when the trace ends. Not a violation by itself (the guest may
/// have been stopped mid-request, and receive queues keep buffers posted), so a note.
///
/// Spec: virtio v1.2 §2.7.13 / §2.7.14 (buffers stay owned by the device until returned).
struct InFlightAtEnd: SummaryRule {
    static let info = RuleInfo(
        id: "QUEUE-INFLIGHT-AT-END", severity: .note, section: "2.7.14", section11: "2.6.14",
        summary: "requests still in flight when the trace ends",
        party: .device, evidence: "virtqueue_pop with no virtqueue_fill before the end of the trace")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        let waiting = queue.inFlightCount
        guard waiting > 0 else { return [] }
        let note = role == .receive || role == .event ? " (buffers posted for incoming data)" : ""
        return [
            SummaryFinding(
                message: "\(waiting) element(s) popped and never filled\(note); the oldest was popped here",
                line: queue.oldestInFlightLine, timestamp: nil)
        ]
    }
}
