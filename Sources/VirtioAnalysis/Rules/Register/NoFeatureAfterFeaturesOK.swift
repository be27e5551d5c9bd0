import VirtioModel

/// Once FEATURES_OK is set, the driver accepts no new feature bits: a DriverFeatures write
/// after FEATURES_OK (and before the next reset) that sets a bit the word did not have then
/// breaks the rule. A word never written counts as 0.
///
/// Spec: virtio v1.2 §3.1.1 "The driver MUST NOT accept new feature bits after this step."
struct NoFeatureAfterFeaturesOK: RegisterRule {
    static let info = RuleInfo(
        id: "INIT-NO-FEATURE-AFTER-FEATURES_OK", severity: .error, section: "3.1.1",
        summary: "no feature bits change after FEATURES_OK",
        party: .driver, evidence: "virtio-mmio DriverFeatures (0x020) writes after a status with FEATURES_OK")

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard write.register == .driverFeatures, device.status.contains(.featuresOK),
            let frozen = device.featureWordsAtFeaturesOK
        else { return nil }
        let word = Int(device.driverFeaturesSelect)
        let before = frozen[word] ?? 0
        let added = UInt32(truncatingIfNeeded: write.value) & ~before
        guard added != 0 else { return nil }
        return "DriverFeatures word \(word) written as 0x\(String(write.value, radix: 16)) after FEATURES_OK "
            + "(0x\(String(before, radix: 16)) then): accepts new bits 0x\(String(added, radix: 16))"
    }
}
