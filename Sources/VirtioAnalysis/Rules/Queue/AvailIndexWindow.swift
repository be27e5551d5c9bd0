/// No more chains are outstanding than the queue has entries. In a trace: elements popped
/// and not yet filled never exceed the queue size, where the virtio-mmio QueueNum write
/// shows it. Reported once each time the count crosses the size. (On virtio-pci the size is
/// not traced, and QEMU itself reports "Virtqueue size exceeded", which maps here too.)
///
/// Spec: virtio v1.2 §2.7 and §2.7.13 (1.1: §2.6, §2.6.13); QEMU: "Virtqueue size exceeded".
struct AvailIndexWindow: QueueRule {
    static let info = RuleInfo(
        id: "SPLIT-AVAIL-IDX-WINDOW", severity: .error, section: "2.7", section11: "2.6",
        summary: "no more chains are in flight than the queue size",
        party: .driver, evidence: "virtqueue_pop minus virtqueue_fill per vq above the queue size")

    static let activities: [QueueActivity.Kind] = [.pop]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard case .pop(_, _, let inFlight) = activity,
            let size = queue.size, inFlight == Int(size) + 1
        else { return nil }
        return "\(inFlight) elements in flight, more than the queue size \(size)"
    }
}
