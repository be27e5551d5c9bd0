/// The driver writes a QueueNum no larger than QueueNumMax.
///
/// QEMU traces both with `virtio_mmio_queue_write` (its QueueNumMax is 1024).
///
/// Spec: virtio v1.2 §4.2.2.2 "The driver MUST NOT write a value which is greater than the
/// QueueNumMax" (1.3: QueueSize/QueueSizeMax).
struct QueueNumWithinMax: RegisterRule {
    static let info = RuleInfo(
        id: "MMIO-QNUM-LE-MAX", severity: .error, section: "4.2.2.2",
        summary: "QueueNum is at most QueueNumMax",
        party: .driver, evidence: "virtio_mmio_queue_write value and max")

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard let maximum = write.queueNumMax, maximum >= 0, write.value > UInt64(maximum) else { return nil }
        return "QueueNum \(write.value) for queue \(device.queueSelect) exceeds QueueNumMax \(maximum)"
    }
}
