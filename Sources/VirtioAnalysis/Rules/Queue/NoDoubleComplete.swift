/// A chain is returned at most once per time it is made available: an element filled
/// again without being popped again is a double completion.
///
/// Spec: virtio v1.2 §2.7.8 (1.1: §2.6.8).
struct NoDoubleComplete: QueueRule {
    static let info = RuleInfo(
        id: "SPLIT-NO-DOUBLE-COMPLETE", severity: .error, section: "2.7.8", section11: "2.6.8",
        summary: "a chain is returned to the used ring at most once per exposure",
        party: .device, evidence: "two virtqueue_fill of one elem with no virtqueue_pop between")

    static let activities: [QueueActivity.Kind] = [.fill]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard case .fill(.completedBefore, let length) = activity else { return nil }
        return "an element was filled again (len \(length)) without being popped again"
    }
}
