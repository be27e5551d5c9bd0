/// `used.idx` never advances by more than the number of elements the device has filled:
/// a `virtqueue_flush` publishes at most the fills it follows.
///
/// Spec: virtio v1.2 §2.7.8 (1.1: §2.6.8); the used index counts returned chains.
struct UsedIndexWindow: QueueRule {
    static let info = RuleInfo(
        id: "SPLIT-USED-IDX-WINDOW", severity: .error, section: "2.7.8", section11: "2.6.8",
        summary: "used.idx advances by no more than the number of filled elements",
        party: .device, evidence: "virtqueue_flush count above the virtqueue_fill events before it")

    static let activities: [QueueActivity.Kind] = [.flush]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard case .flush(let count, let awaiting) = activity, Int(count) > awaiting else { return nil }
        return "flush publishes \(count) used entries but only \(awaiting) were filled since the last flush"
    }
}
