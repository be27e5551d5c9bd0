/// No more chains are outstanding than the queue has entries. In a trace: elements popped
/// and not yet filled never exceed the queue size (QEMU's limit, 1024, when the size was
/// not traced). Reported once each time the count crosses the limit.
///
/// Spec: virtio v1.2 §2.7 and §2.7.13 (1.1: §2.6, §2.6.13); QEMU: "Virtqueue size exceeded".
struct AvailIndexWindow: QueueRule {
    static let info = RuleInfo(
        id: "SPLIT-AVAIL-IDX-WINDOW", severity: .error, section: "2.7", section11: "2.6",
        summary: "no more chains are in flight than the queue size",
        party: .driver, evidence: "virtqueue_pop minus virtqueue_fill per vq above the queue size")

    /// QEMU's VIRTQUEUE_MAX_SIZE: no QEMU queue is larger.
    static let qemuMaximum = 1024

    static func check(_ activity: QueueActivity, device: DeviceState?, queue: QueueState) -> String? {
        guard case .pop(_, _, let inFlight) = activity else { return nil }
        let known = queue.index.flatMap { device?.mmioQueues[UInt32($0)]?.size }.map(Int.init)
        let limit = known ?? Self.qemuMaximum
        guard inFlight == limit + 1 else { return nil }
        let source = known != nil ? "the queue size" : "QEMU's maximum queue size (the size was not traced)"
        return "\(inFlight) elements in flight, more than \(limit), \(source)"
    }
}
