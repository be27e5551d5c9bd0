/// On a packed ring the driver reads the device's event suppression structure (the Device
/// Area) after exposing new descriptors, behind a memory barrier, and notifies when it asks:
/// the barrier itself cannot be seen, its purpose can — with VIRTIO_F_EVENT_IDX, a structure in
/// RING_EVENT_FLAGS_DESC mode naming the slot where the driver made a list available means the
/// device waits for that notification. Judged on recordings (``NotificationWaits``).
///
/// Spec: virtio v1.2 §2.8.21.3.1 (1.1: §2.7.21.3.1), "The driver MUST perform a suitable
/// memory barrier before reading the Device Event Suppression structure, to avoid missing a
/// notification."
enum PackedDriverNotify {
    static let info = RuleInfo(
        id: "PACKED-DRV-NOTIFY-BARRIER", severity: .error, section: "2.8.21.3.1", section11: "2.7.21.3.1",
        summary: "the driver reads the device's event suppression after exposing descriptors and notifies when it asks",
        party: .driver,
        evidence:
            "a recording with EVENT_IDX: the Device Area in DESC mode at the driver's next slot for a second and more after lists were made available there, and no virtio_queue_notify of the queue in the trace")
}
