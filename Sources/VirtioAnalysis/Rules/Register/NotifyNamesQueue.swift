import TraceSources

/// A QueueNotify write names a queue the device has set up: QEMU acts on it (and traces
/// `virtio_queue_notify`) only when the value, or with VIRTIO_F_NOTIFICATION_DATA its low 16
/// bits, is the index of a queue with a ring; any other write is dropped, and the driver waits
/// for a device that was never told.
///
/// Spec: virtio v1.2 §4.2.3.3 (1.1: §4.2.3.3) "the driver sends an available buffer notification
/// to the device by writing the 16-bit virtqueue index of the queue to be notified to
/// QueueNotify" (derived: a value that names no queue notifies none).
enum NotifyNamesQueue {
    static let info = RuleInfo(
        id: "MMIO-NOTIFY-QUEUE", severity: .error, section: "4.2.3.3", section11: "4.2.3.3",
        summary: "a QueueNotify write names a queue the device has set up",
        party: .driver, evidence: "a virtio_mmio_write to QueueNotify (0x050) that QEMU does not follow with virtio_queue_notify")

    /// What to say of a QueueNotify write of `value` that QEMU did not act on.
    static func message(value: UInt64) -> String {
        if value > 0xffff {
            return "QueueNotify 0x\(String(value, radix: 16)) was dropped: a queue index is 16 bits "
                + "(with VIRTIO_F_NOTIFICATION_DATA, the low 16 bits name the queue)"
        }
        return "QueueNotify \(value) was dropped: the device has no queue \(value) set up (QueueReady, or QueuePFN on a legacy device)"
    }
}
