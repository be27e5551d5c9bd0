import VirtioModel

/// A driver of a modern (Version 2; no legacy register written) virtio-mmio device accepts VIRTIO_F_VERSION_1, which
/// such a device always offers, before it sets FEATURES_OK.
///
/// Checked only when the trace shows the device's DriverFeatures writes, since QEMU does not
/// trace the values the driver reads.
///
/// Spec: virtio v1.2 §6.1 "A driver MUST accept VIRTIO_F_VERSION_1 if it is offered."
struct FeatureVersion1Accept: StatusRule {
    static let info = RuleInfo(
        id: "FEAT-VERSION_1-ACCEPT", severity: .error, section: "6.1",
        summary: "the driver accepts VIRTIO_F_VERSION_1 on a modern device",
        party: .driver, evidence: "virtio-mmio DriverFeatures writes before FEATURES_OK")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, device.transport == .mmio, !device.legacy,
            change.new.contains(.featuresOK), !change.old.contains(.featuresOK),
            device.driverFeatureWords.low != nil
        else { return nil }
        guard let high = device.driverFeatureWords.high, high & 1 != 0 else {
            return "FEATURES_OK set on a Version 2 virtio-mmio device without accepting VIRTIO_F_VERSION_1 (bit 32)"
        }
        return nil
    }
}
