import VirtioModel

/// The entropy device's request queue holds only device-writable buffers.
///
/// Spec: virtio v1.2 §5.4.6.1 "The driver MUST NOT place device-readable buffers into the queue."
struct EntropyWritableOnly: SummaryRule {
    static let info = RuleInfo(
        id: "RNG-WRITABLE-ONLY", severity: .error, section: "5.4.6.1",
        summary: "entropy requests are device-writable buffers only",
        party: .driver, evidence: "virtqueue_pop with out_num > 0 on the entropy requestq")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .entropy else { return [] }
        return RequestShape.finding(queue.shapes.readableOnly, of: queue, "had device-readable buffers only")
            + RequestShape.finding(queue.shapes.mixed, of: queue, "had device-readable buffers")
    }
}

extension EntropyWritableOnly: SnapshotRule {
    /// In a dump: an owned chain on the entropy requestq with a device-readable descriptor.
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.deviceType == .entropy ? OwnedBuffers.readable(in: queue) : []
    }
}
