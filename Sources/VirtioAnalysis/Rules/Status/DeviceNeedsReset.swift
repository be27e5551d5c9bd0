import VirtioModel

/// The device set DEVICE_NEEDS_RESET: it hit an error it cannot recover from (in QEMU,
/// `virtio_error`, whose message usually stands in the log next to it) and stopped
/// processing queues until the driver resets it.
///
/// Spec: virtio v1.2 §2.1.2 "The device SHOULD set DEVICE_NEEDS_RESET when it enters an error
/// state that a reset is needed."
struct DeviceNeedsReset: StatusRule {
    static let info = RuleInfo(
        id: "STATUS-DEVICE-NEEDS-RESET", severity: .error, section: "2.1.2",
        summary: "the device raised DEVICE_NEEDS_RESET (an unrecoverable device error)",
        party: .device, evidence: "virtio_set_status with bit 0x40 set by QEMU")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .device else { return nil }
        return "the device set DEVICE_NEEDS_RESET (status \(change.old) -> \(change.new)); look for QEMU's virtio_error message just before"
    }
}
