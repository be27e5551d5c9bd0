/// With VIRTIO_F_EVENT_IDX the device notifies the driver when it writes the used element
/// whose index the driver wrote in `used_event`: the driver waits for that notification.
/// Judged on recordings (``NotificationWaits``).
///
/// Spec: virtio v1.2 §2.7.7.2 (1.1: §2.6.7.2), "if the idx field in the used ring was equal
/// to used_event, the device MUST send a notification."
enum DeviceMustNotify {
    static let info = RuleInfo(
        id: "SPLIT-DEV-MUST-NOTIFY", severity: .error, section: "2.7.7.2", section11: "2.6.7.2",
        summary: "with EVENT_IDX, the device notifies the driver when it writes the used element used_event names",
        party: .device,
        evidence: "a recording: used_event at the new used elements' index for a second and more, and no virtio_notify of the queue in the trace")
}
