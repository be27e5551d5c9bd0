import VirtioModel

/// A driver of a modern device — virtio-mmio Version 2 (no legacy register written), or
/// virtio-pci driven through its common configuration structure (§4.1.4.3) — accepts
/// VIRTIO_F_VERSION_1, which such a device always offers, before it sets FEATURES_OK.
///
/// Checked only when the trace shows the driver's feature writes (virtio-mmio DriverFeatures,
/// or virtio-pci `driver_feature` through `memory_region_ops_write`), since QEMU does not
/// trace the values the driver reads.
///
/// Spec: virtio v1.2 §6.1 "A driver MUST accept VIRTIO_F_VERSION_1 if it is offered."
struct FeatureVersion1Accept: StatusRule {
    static let info = RuleInfo(
        id: "FEAT-VERSION_1-ACCEPT", severity: .error, section: "6.1",
        summary: "the driver accepts VIRTIO_F_VERSION_1 on a modern device",
        party: .driver, evidence: "virtio-mmio DriverFeatures or virtio-pci driver_feature writes before FEATURES_OK")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, device.transport == .pci || (device.transport == .mmio && !device.legacy),
            change.new.contains(.featuresOK), !change.old.contains(.featuresOK),
            device.driverFeatureWords.low != nil
        else { return nil }
        guard let high = device.driverFeatureWords.high, high & 1 != 0 else {
            let device = device.transport == .pci ? "virtio-pci device (common configuration)" : "Version 2 virtio-mmio device"
            return "FEATURES_OK set on a \(device) without accepting VIRTIO_F_VERSION_1 (bit 32)"
        }
        return nil
    }
}
