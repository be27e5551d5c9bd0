import VirtioModel

/// Buffers on a network receive queue are device-writable only.
///
/// Spec: virtio v1.2 §5.1.6.3 "Setting Up Receive Buffers" (receive buffers are device-writable;
/// QEMU: "virtio-net receive queue contains no in buffers").
struct NetReceiveWritableOnly: SummaryRule {
    static let info = RuleInfo(
        id: "NET-RX-WRITABLE-ONLY", severity: .error, section: "5.1.6.3",
        summary: "net receiveq buffers are device-writable only",
        party: .driver, evidence: "virtqueue_pop with out_num > 0 on a net receiveq")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .network, role == .receive else { return [] }
        return RequestShape.finding(queue.shapes.readableOnly, of: queue, "had device-readable buffers only")
            + RequestShape.finding(queue.shapes.mixed, of: queue, "had device-readable buffers")
    }
}

extension NetReceiveWritableOnly: SnapshotRule {
    /// In a dump: an owned chain on a receiveq with a device-readable descriptor.
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.deviceType == .network && queue.role == .receive ? OwnedBuffers.readable(in: queue) : []
    }
}
