/// On a packed ring with VIRTIO_F_EVENT_IDX the driver's event suppression structure (the
/// Driver Area) in RING_EVENT_FLAGS_DESC mode names the descriptor whose use the driver wants
/// to hear of; once the device has written that used descriptor it notifies. The packed
/// layout states no MUST here (1.2 has none for the device's used buffer notifications):
/// "after writing out some descriptors, both the device and the driver are expected to
/// consult the relevant structure", and the event "will only trigger when this descriptor
/// is … used". Judged on recordings (``NotificationWaits``).
///
/// Spec: virtio v1.2 §2.8.10 (1.1: §2.7.10), "Driver and Device Event Suppression".
enum PackedDeviceNotify {
    static let info = RuleInfo(
        id: "PACKED-DEV-NOTIFY", severity: .error, section: "2.8.10", section11: "2.7.10",
        summary: "with EVENT_IDX, the device notifies the driver when it writes the used descriptor the driver's event suppression names",
        party: .device,
        evidence:
            "a recording: the Driver Area in DESC mode at the device's next used slot for a second and more after used descriptors were written there, and no virtio_notify of the queue in the trace")
}
