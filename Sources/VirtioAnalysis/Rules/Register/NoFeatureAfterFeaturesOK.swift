import VirtioModel

/// Once FEATURES_OK is set, the driver accepts no new feature bits: a driver features write
/// after FEATURES_OK (and before the next reset) that sets a bit the word did not have then
/// breaks the rule. A word never written counts as 0. virtio-mmio's DriverFeatures and
/// virtio-pci's `driver_feature` are one word of the features each, as the select names it.
///
/// Spec: virtio v1.2 §3.1.1 "The driver MUST NOT accept new feature bits after this step."
struct NoFeatureAfterFeaturesOK: RegisterRule, CommonConfigRule {
    static let info = RuleInfo(
        id: "INIT-NO-FEATURE-AFTER-FEATURES_OK", severity: .error, section: "3.1.1",
        summary: "no feature bits change after FEATURES_OK",
        party: .driver,
        evidence: "virtio-mmio DriverFeatures (0x020) or virtio-pci driver_feature (0x0C) writes after a status with FEATURES_OK")

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard write.register == .driverFeatures else { return nil }
        return Self.check(word: UInt32(truncatingIfNeeded: write.value), register: "DriverFeatures", device: device)
    }

    static func check(_ write: CommonConfigWrite, device: DeviceContext) -> String? {
        guard write.field == .driverFeature else { return nil }
        return Self.check(word: UInt32(truncatingIfNeeded: write.value), register: "driver_feature", device: device)
    }

    private static func check(word value: UInt32, register: String, device: DeviceContext) -> String? {
        guard device.status.contains(.featuresOK), let frozen = device.featureWordsAtFeaturesOK else { return nil }
        let word = Int(device.driverFeaturesSelect)
        let before = frozen[word] ?? 0
        let added = value & ~before
        guard added != 0 else { return nil }
        return "\(register) word \(word) written as 0x\(String(value, radix: 16)) after FEATURES_OK "
            + "(0x\(String(before, radix: 16)) then): accepts new bits 0x\(String(added, radix: 16))"
    }
}
