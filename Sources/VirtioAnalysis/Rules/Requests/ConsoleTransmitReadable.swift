import VirtioModel

/// Console transmit queues (port transmitqs and the control transmitq) hold device-readable
/// buffers only.
///
/// Spec: virtio v1.2 §5.3.6.1 "The driver MUST NOT put a device-writable buffer in a transmitq."
struct ConsoleTransmitReadable: SummaryRule {
    static let info = RuleInfo(
        id: "CONS-TX-READABLE", severity: .error, section: "5.3.6.1",
        summary: "console transmitq buffers are device-readable only",
        party: .driver, evidence: "virtqueue_pop with in_num > 0 on an odd-numbered console queue")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .console, let index = queue.index, index % 2 == 1 else { return [] }
        return RequestShape.finding(queue.shapes.writableOnly, of: queue, "had device-writable buffers only")
            + RequestShape.finding(queue.shapes.mixed, of: queue, "had device-writable buffers")
    }
}

extension ConsoleTransmitReadable: SnapshotRule {
    /// In a dump: an owned chain on a transmitq (odd index) with a device-writable descriptor.
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.deviceType == .console && queue.index % 2 == 1 ? OwnedBuffers.writable(in: queue) : []
    }
}
