import VirtioModel

/// The driver selects a word of the features before it reads DeviceFeatures or writes
/// DriverFeatures: a DeviceFeatures read with no DeviceFeaturesSel write since the device's
/// last reset (or the trace's start), or a DriverFeatures write with no DriverFeaturesSel
/// write, breaks the rule. Once selected, the word may be read or written again.
///
/// Spec: virtio v1.2 §4.2.2.2 "Before reading from DeviceFeatures, the driver MUST write a
/// value to DeviceFeaturesSel. Before writing to the DriverFeatures register, the driver MUST
/// write a value to the DriverFeaturesSel register."
struct FeatureSelectFirst: RegisterRule, RegisterReadRule {
    static let info = RuleInfo(
        id: "MMIO-FEATSEL-FIRST", severity: .error, section: "4.2.2.2",
        summary: "DeviceFeaturesSel is written before DeviceFeatures is read, DriverFeaturesSel before DriverFeatures is written",
        party: .driver,
        evidence: "virtio-mmio DeviceFeatures (0x010) reads and DriverFeatures (0x020) writes, and the select writes before them")

    static let registers: [MMIORegister] = [.deviceFeatures]

    static func check(_ read: RegisterRead, device: DeviceContext) -> String? {
        guard read.register == .deviceFeatures, !device.featureSelectsWritten.device else { return nil }
        return "DeviceFeatures read with no DeviceFeaturesSel write since the device's last reset: the word read is whichever the device had selected"
    }

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard write.register == .driverFeatures, !device.featureSelectsWritten.driver else { return nil }
        return "DriverFeatures written (0x\(String(write.value, radix: 16))) with no DriverFeaturesSel write since the device's last reset: "
            + "the word written is whichever the device had selected"
    }
}
