import VirtioModel

/// After a reset the device touches no queue and sends no notification until it is
/// initialized again. Completions of requests that were in flight when the reset began
/// (QEMU drains them inside the reset) are not counted.
///
/// Spec: virtio v1.2 §2.4.1 "… the device MUST NOT send notifications or interact with the
/// queues after indicating completion of the device reset."
struct ResetQuiesce: QueueRule {
    static let info = RuleInfo(
        id: "RESET-QUIESCE", severity: .error, section: "2.4.1",
        summary: "after a reset the device uses no queue until re-initialized",
        party: .device, evidence: "virtqueue_pop or virtio_notify while the status is 0")

    static let activities: [QueueActivity.Kind] = [.pop, .interrupt]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard let status = queue.deviceStatus, status.rawValue == 0 else { return nil }
        switch activity {
        case .pop: return "an element was popped from a reset device"
        case .interrupt(afterDrain: false): return "a used-buffer notification was sent by a reset device"
        default: return nil
        }
    }
}
