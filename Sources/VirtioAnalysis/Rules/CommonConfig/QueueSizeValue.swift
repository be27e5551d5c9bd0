import VirtioModel

/// The `queue_size` a driver writes fits the ring layout it negotiated: a power of 2 for a
/// split ring, anything but 0 for a packed one.
///
/// Spec: virtio v1.2 §4.1.4.3.2 "If VIRTIO_F_RING_PACKED has been negotiated, the driver
/// MUST NOT write the value 0 to queue_size. If VIRTIO_F_RING_PACKED has not been negotiated,
/// the driver MUST NOT write a value which is not a power of 2 to queue_size." (Same in 1.1.)
struct QueueSizeValue: CommonConfigRule {
    static let info = RuleInfo(
        id: "PCI-QSIZE", severity: .error, section: "4.1.4.3.2",
        summary: "queue_size is a power of 2 for a split ring, not 0 for a packed one",
        party: .driver, evidence: "memory_region_ops_write of queue_size (0x18) and the features accepted")

    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        guard write.field == .queueSize else { return nil }
        let size = UInt16(truncatingIfNeeded: write.value)
        if device.acceptedFeatures.contains(.ringPacked) {
            guard size == 0 else { return nil }
            return "queue_size 0 written for queue \(device.queueSelect) with VIRTIO_F_RING_PACKED"
        }
        guard size == 0 || size & (size - 1) != 0 else { return nil }
        return "queue_size \(size) written for queue \(device.queueSelect): not a power of 2, and VIRTIO_F_RING_PACKED is not accepted"
    }
}
