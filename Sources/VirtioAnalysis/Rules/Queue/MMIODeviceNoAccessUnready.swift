import VirtioModel

/// A virtio-mmio device takes no buffer from a queue whose QueueReady is 0: a `virtqueue_pop`
/// of a Version 2 device's queue that the driver has not made ready since the last reset (or
/// has made not ready again) breaks the rule. Judged once a `virtio_queue_notify` named the
/// queue's index and the device's register writes were tied to it.
///
/// Spec: virtio v1.2 §4.2.2.1 (1.1: §4.2.2.1) "The device MUST NOT access virtual queue
/// contents when QueueReady is zero (0x0)."
struct MMIODeviceNoAccessUnready: QueueRule {
    static let info = RuleInfo(
        id: "MMIO-DEV-NO-ACCESS-UNREADY", severity: .error, section: "4.2.2.1", section11: "4.2.2.1",
        summary: "a virtio-mmio device takes no buffer from a queue whose QueueReady is 0",
        party: .device, evidence: "virtqueue_pop of a Version 2 virtio-mmio queue, and the QueueReady writes before it")

    static let activities: [QueueActivity.Kind] = [.pop]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard case .pop = activity, queue.mmioReady == false, let index = queue.index else { return nil }
        return "an element was popped from queue \(index), whose QueueReady the driver has not set (or has cleared) since the last reset"
    }
}
