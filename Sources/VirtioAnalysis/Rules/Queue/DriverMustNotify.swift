/// With VIRTIO_F_EVENT_IDX the driver notifies the device when it makes available the entry
/// whose index the device wrote in `avail_event`: the device waits for that notification and
/// does not look at the ring until it comes. Judged on recordings (``NotificationWaits``).
///
/// Spec: virtio v1.2 §2.7.10.1 (1.1: §2.6.10.1), "If the idx field in the available ring
/// (which determined where that descriptor index was placed) was equal to avail_event, the
/// driver MUST send a notification."
enum DriverMustNotify {
    static let info = RuleInfo(
        id: "SPLIT-DRV-MUST-NOTIFY", severity: .error, section: "2.7.10.1", section11: "2.6.10.1",
        summary: "with EVENT_IDX, the driver notifies the device when it makes available the entry avail_event names",
        party: .driver,
        evidence: "a recording: avail_event at the new entries' index for a second and more, and no virtio_queue_notify of the queue in the trace")
}
