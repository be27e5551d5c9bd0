import VirtioModel

/// The driver sends no available-buffer notification before it sets DRIVER_OK.
///
/// QEMU's own notifications when it starts ioeventfd at DRIVER_OK are not counted as kicks.
/// Legacy devices are exempt (§3.1.2: legacy drivers may use a device before DRIVER_OK).
///
/// Spec: virtio v1.2 §3.1.1 "The driver MUST NOT send any buffer available notifications to
/// the device before setting DRIVER_OK."
struct InitNoKickBeforeDriverOK: QueueRule {
    static let info = RuleInfo(
        id: "INIT-NO-KICK-BEFORE-DRIVER_OK", severity: .error, section: "3.1.1",
        summary: "no available-buffer notification before DRIVER_OK",
        party: .driver, evidence: "virtio_queue_notify while the device status lacks DRIVER_OK")

    static let activities: [QueueActivity.Kind] = [.kick]

    static func check(_ activity: QueueActivity, queue: QueueContext) -> String? {
        guard case .kick = activity, let status = queue.deviceStatus, !queue.legacy, !status.contains(.driverOK)
        else { return nil }
        return "queue \(queue.index.map(String.init) ?? "?") notified while the status is \(status)"
    }
}
