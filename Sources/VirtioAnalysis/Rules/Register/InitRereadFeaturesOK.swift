import VirtioModel

/// After setting FEATURES_OK the driver reads the status back before it goes on: the device
/// leaves the bit clear when it does not accept the features, and only the read tells. Once a
/// status write sets FEATURES_OK, the driver's first step of device setup — on virtio-mmio
/// version 2 a queue register write (QueueSel to QueueDeviceHigh, QueueReady, QueueReset), a
/// configuration space write, or a Status write setting DRIVER_OK; on virtio-pci the same
/// through the common configuration — before any read of the status breaks the rule. On
/// virtio-pci, where the read's value is traced, a step of setup after a read without
/// FEATURES_OK breaks it too: the device refused the features and is unusable. A reset or
/// FAILED ends the wait. QEMU traces a virtio-mmio read's offset, not its value, so there what
/// the driver does when the bit is gone is not judged.
///
/// Spec: virtio v1.2 §3.1.1, steps 5–7: "Set the FEATURES_OK status bit. The driver MUST NOT
/// accept new feature bits after this step. Re-read device status to ensure the FEATURES_OK
/// bit is still set: otherwise, the device does not support our subset of features and the
/// device is unusable. Perform device-specific setup, …"
struct InitRereadFeaturesOK: RegisterRule, RegisterReadRule, CommonConfigRule {
    static let info = RuleInfo(
        id: "INIT-REREAD-FEATURES_OK", severity: .error, section: "3.1.1",
        summary: "after setting FEATURES_OK the driver reads Status back before setting the device up",
        party: .driver,
        evidence: "virtio-mmio Status (0x070) writes and reads, and the queue, configuration and Status writes after FEATURES_OK")

    /// Status reads end the wait (``DeviceState/apply(_:)-read``); they break nothing.
    static let registers: [MMIORegister] = [.status]

    static func check(_ read: RegisterRead, device: DeviceContext) -> String? { nil }

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard let set = device.featuresOKUnread, Self.setsUp(write) else { return nil }
        let step =
            write.register == .status
            ? "set DRIVER_OK"
            : "wrote \(write.register?.name ?? "configuration offset 0x\(String(write.offset &- MMIORegister.configOffset, radix: 16))")"
        return Self.message(step: step, status: "Status", set: set)
    }

    /// virtio-pci: judged only where the trace has `memory_region_ops_read`, without which no
    /// read of `device_status` can be seen.
    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        guard device.regionReadsTraced, let field = write.field, Self.setsUp(field, value: write.value) else { return nil }
        let step = field == .deviceStatus ? "set DRIVER_OK" : "wrote \(field.name)"
        if let refused = device.featuresRefused {
            return "\(step) after the device refused the features (device_status read without FEATURES_OK at line \(refused.line)): "
                + "the device is unusable until a reset"
        }
        guard let set = device.featuresOKUnread else { return nil }
        return Self.message(step: step, status: "device_status", set: set)
    }

    private static func message(step: String, status: String, set: TracePlace) -> String {
        "\(step) without reading \(status) since FEATURES_OK was set (line \(set.line)): "
            + "only that read shows whether the device accepted the features"
    }

    /// The virtio-pci write is a step of device setup (§3.1.1 steps 7 and 8).
    static func setsUp(_ field: CommonConfig.Field, value: UInt64) -> Bool {
        switch field {
        case .queueSelect, .queueSize, .queueEnable, .queueDescLow, .queueDescHigh, .queueDriverLow, .queueDriverHigh,
            .queueDeviceLow, .queueDeviceHigh, .queueReset:
            return true
        case .deviceStatus:
            return value & UInt64(DeviceStatus.driverOK.rawValue) != 0
        default:
            return false
        }
    }

    /// The virtio-mmio write is a step of device setup (§3.1.1 steps 7 and 8), which must wait
    /// for the re-read of Status.
    static func setsUp(_ write: RegisterWrite) -> Bool {
        switch write.register {
        case .queueSel, .queueNum, .queueReady, .queueDescLow, .queueDescHigh, .queueDriverLow, .queueDriverHigh,
            .queueDeviceLow, .queueDeviceHigh, .queueReset:
            return true
        case .status:
            return write.value & UInt64(DeviceStatus.driverOK.rawValue) != 0
        case nil:
            return write.offset >= MMIORegister.configOffset
        default:
            return false
        }
    }
}
