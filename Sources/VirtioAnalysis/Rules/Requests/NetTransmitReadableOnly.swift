import VirtioModel

/// Buffers on a network transmit queue are device-readable only (header and packet).
///
/// Spec: virtio v1.2 §5.1.6.2 "Packet Transmission" (the driver adds the header and packet as
/// device-readable buffers).
struct NetTransmitReadableOnly: SummaryRule {
    static let info = RuleInfo(
        id: "NET-TX-READABLE-ONLY", severity: .error, section: "5.1.6.2",
        summary: "net transmitq buffers are device-readable only",
        party: .driver, evidence: "virtqueue_pop with in_num > 0 on a net transmitq")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .network, role == .transmit else { return [] }
        return RequestShape.finding(queue.shapes.writableOnly, of: queue, "had device-writable buffers only")
            + RequestShape.finding(queue.shapes.mixed, of: queue, "had device-writable buffers")
    }
}

extension NetTransmitReadableOnly: SnapshotRule {
    /// In a dump: an owned chain on a transmitq with a device-writable descriptor.
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.deviceType == .network && queue.role == .transmit ? OwnedBuffers.writable(in: queue) : []
    }
}
