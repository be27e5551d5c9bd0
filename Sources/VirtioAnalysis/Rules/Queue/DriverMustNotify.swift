/// The driver notifies the device when the device asks for it: without VIRTIO_F_EVENT_IDX
/// whenever used.flags has VIRTQ_USED_F_NO_NOTIFY clear, with it when it makes available the
/// entry whose index the device wrote in `avail_event`. A device waiting so does not look at
/// the ring until the notification comes. Judged on recordings (``NotificationWaits``).
///
/// Spec: virtio v1.2 §2.7.10.1 (1.1: §2.6.10.1), "If the VIRTIO_F_EVENT_IDX feature bit is not
/// negotiated: … If flags is 0, the driver MUST send a notification." and, with it, "If the
/// idx field in the available ring (which determined where that descriptor index was placed)
/// was equal to avail_event, the driver MUST send a notification."
enum DriverMustNotify {
    static let info = RuleInfo(
        id: "SPLIT-DRV-MUST-NOTIFY", severity: .error, section: "2.7.10.1", section11: "2.6.10.1",
        summary: "the driver notifies the device when used.flags (no EVENT_IDX) or avail_event (EVENT_IDX) asks for it",
        party: .driver,
        evidence: "a recording: used.flags clear, or avail_event at the new entries' index, for a second and more, "
            + "and no virtio_queue_notify of the queue in the trace")
}
