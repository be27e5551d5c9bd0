/// Every used element names a chain the device owns: one the driver made available and the
/// device has not returned. In a trace, a `virtqueue_fill` must name an element that a
/// `virtqueue_pop` on the same queue handed out and that is still in flight.
///
/// Spec: virtio v1.2 §2.7.8 "The Virtqueue Used Ring" (1.1: §2.6.8).
struct UsedIDOwned: QueueRule {
    static let info = RuleInfo(
        id: "SPLIT-USED-ID-OWNED", severity: .error, section: "2.7.8", section11: "2.6.8",
        summary: "a used element names a chain the device owns (popped and not yet returned)",
        party: .device, evidence: "virtqueue_fill of an elem with no virtqueue_pop on that vq")

    static let activities: [QueueActivity.Kind] = [.fill]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard case .fill(.notInFlight, let length) = activity else { return nil }
        return "an element that was never popped on this queue was filled (len \(length))"
    }
}
