import VirtioModel

/// The device consumes no buffers and sends no used-buffer notifications before DRIVER_OK.
///
/// A device that has just been reset (status 0) is checked by ``ResetQuiesce`` instead.
/// Legacy devices are exempt (§3.1.2).
///
/// Spec: virtio v1.2 §2.1.2 "The device MUST NOT consume buffers or send any used buffer
/// notifications to the driver before DRIVER_OK."
struct StatusNoUseBeforeDriverOK: QueueRule {
    static let info = RuleInfo(
        id: "STATUS-NO-USE-BEFORE-DRIVER_OK", severity: .error, section: "2.1.2",
        summary: "the device uses no buffers and sends no used-buffer notifications before DRIVER_OK",
        party: .device, evidence: "virtqueue_pop or virtio_notify while the status lacks DRIVER_OK")

    static let activities: [QueueActivity.Kind] = [.pop, .interrupt]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard let status = queue.deviceStatus, !queue.legacy, !status.contains(.driverOK), status.rawValue != 0
        else { return nil }
        switch activity {
        case .pop: return "an element was popped while the status is \(status)"
        case .interrupt(afterDrain: false): return "a used-buffer notification was sent while the status is \(status)"
        default: return nil
        }
    }
}
