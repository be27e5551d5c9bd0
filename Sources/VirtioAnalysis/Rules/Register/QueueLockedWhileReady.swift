import VirtioModel

/// While a queue's QueueReady is set, the driver does not write its QueueNum or its
/// descriptor, driver or device area addresses.
///
/// Spec: virtio v1.2 §4.2.2.2 "The driver MUST NOT access QueueNum, QueueDescLow, … when
/// QueueReady is not zero" — in the Version 2 register layout only.
struct QueueLockedWhileReady: RegisterRule {
    static let info = RuleInfo(
        id: "MMIO-QUEUE-LOCKED", severity: .error, section: "4.2.2.2",
        summary: "no QueueNum or queue address writes while QueueReady is set",
        party: .driver, evidence: "virtio_mmio_write_offset to 0x038 or 0x080–0x0a4 after QueueReady=1")

    /// The registers §4.2.2.2 locks while QueueReady is set (a switch: this runs on every write).
    static func isLocked(_ register: MMIORegister) -> Bool {
        switch register {
        case .queueNum, .queueDescLow, .queueDescHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow, .queueDeviceHigh:
            return true
        default:
            return false
        }
    }

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard let register = write.register, Self.isLocked(register), !device.legacy,
            device.selectedQueueReady
        else { return nil }
        return "\(register.name) written (0x\(String(write.value, radix: 16))) while queue \(device.queueSelect) is ready"
    }
}
