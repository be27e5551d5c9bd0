import VirtioModel

/// The driver accepts only features the device offers. QEMU drops an accepted bit it did not
/// offer without a word (`virtio_set_features` keeps the offered ones), so a driver that
/// writes one believes in a feature the device then works without. Judged by `vqscope
/// record`, which knows both halves: the offer from QMP (`host-features`), the driver's
/// feature writes from the trace (virtio-mmio DriverFeatures, virtio-pci `driver_feature`).
///
/// Spec: virtio v1.2 §2.2.1 "The driver MUST NOT accept a feature which the device did not
/// offer".
enum FeatureAcceptSubset {
    static let info = RuleInfo(
        id: "FEAT-ACCEPT-SUBSET", severity: .error, section: "2.2.1",
        summary: "the driver accepts only features the device offers (recordings)",
        party: .driver,
        evidence: "a recording: the driver features in the trace when it enables a queue, against QMP's host-features")

    static func message(accepted: FeatureBits, offered: FeatureBits, type: DeviceType?) -> String {
        let extra = FeatureBits(rawValue: accepted.rawValue & ~offered.rawValue)
        return "the driver accepted \(extra.names(for: type).joined(separator: ", ")), which the device does not offer "
            + "(accepted 0x\(String(accepted.rawValue, radix: 16)), offered 0x\(String(offered.rawValue, radix: 16))): "
            + "QEMU drops them, and the device works without"
    }
}
