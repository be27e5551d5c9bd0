import VirtioModel

/// A queue is set up before the driver enables it, and `queue_enable` is only ever written 1
/// (the spec forbids 0 and defines no other value; QEMU rejects any but 1 with `virtio_error`).
/// A `queue_size` or ring address written for a queue already enabled (since the last device
/// or queue reset) comes too late: QEMU, like the spec's device, takes the set-up when the
/// queue is enabled. `queue_msix_vector` is not held to it: QEMU applies a vector write at
/// once, and Linux writes VIRTIO_MSI_NO_VECTOR there when it deletes a queue.
///
/// Spec: virtio v1.2 §4.1.4.3.2 "The driver MUST configure the other virtqueue fields before
/// enabling the virtqueue with queue_enable." and "The driver MUST NOT write a 0 to
/// queue_enable." (Same in 1.1.)
struct EnableLast: CommonConfigRule {
    static let info = RuleInfo(
        id: "PCI-ENABLE-LAST", severity: .error, section: "4.1.4.3.2",
        summary: "a queue's size and ring addresses are written before queue_enable=1; queue_enable is only ever written 1",
        party: .driver,
        evidence: "memory_region_ops_write of queue_enable (0x1C) and of queue_size or the ring addresses after it; "
            + "QEMU: \"wrong value for queue_enable\"")

    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        switch write.field {
        case .queueEnable:
            guard write.value != 1 else { return nil }
            return "queue_enable written as \(write.value) for queue \(device.queueSelect) (a driver writes only 1 there)"
        case .queueSize, .queueDescLow, .queueDescHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow, .queueDeviceHigh:
            guard device.selectedQueueReady, let field = write.field else { return nil }
            return "\(field.name) written (0x\(String(write.value, radix: 16))) for queue \(device.queueSelect) after the driver "
                + "enabled it: the device took the queue's set-up at queue_enable"
        default:
            return nil
        }
    }
}
