import VirtioModel

/// Console receive queues (port receiveqs and the control receiveq) hold device-writable
/// buffers only.
///
/// Spec: virtio v1.2 §5.3.6.1 "The driver MUST NOT put a device-readable buffer in a receiveq."
struct ConsoleReceiveWritable: SummaryRule {
    static let info = RuleInfo(
        id: "CONS-RX-WRITABLE", severity: .error, section: "5.3.6.1",
        summary: "console receiveq buffers are device-writable only",
        party: .driver, evidence: "virtqueue_pop with out_num > 0 on an even-numbered console queue")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .console, let index = queue.index, index % 2 == 0 else { return [] }
        return RequestShape.finding(queue.shapes.readableOnly, of: queue, "had device-readable buffers only")
            + RequestShape.finding(queue.shapes.mixed, of: queue, "had device-readable buffers")
    }
}

extension ConsoleReceiveWritable: SnapshotRule {
    /// In a dump: an owned chain on a receiveq (even index) with a device-readable descriptor.
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.deviceType == .console && queue.index % 2 == 0 ? OwnedBuffers.readable(in: queue) : []
    }
}
