import VirtioModel

/// A device that accepted a set of features does not refuse the same set later (after a
/// reset). Judged on virtio-pci where the trace has `memory_region_ops_read`: each set the
/// device took (the read-back after FEATURES_OK had the bit) is remembered across resets (the
/// first 16), and a read-back that shows the bit clear for one of them is reported.
///
/// Spec: virtio v1.2 §2.2.2 (1.1: §2.2.2) "If a driver has successfully negotiated a set of
/// features with a device at least once, the device SHOULD NOT fail to accept the same set of
/// features after a device or system reset."
enum RenegotiateStable {
    static let info = RuleInfo(
        id: "FEAT-RENEGOTIATE-STABLE", severity: .warning, section: "2.2.2", section11: "2.2.2",
        summary: "a device does not refuse, after a reset, a set of features it accepted before",
        party: .device,
        evidence: "virtio-pci device_status reads (memory_region_ops_read) after FEATURES_OK, across resets")

    static func check(statusRead status: DeviceStatus, device: DeviceContext) -> String? {
        guard let refused = FeaturesOKReject.refusedFeatures(status, device: device),
            let taken = device.featureSetsTaken.first(where: { $0.features == refused })
        else { return nil }
        return "the device refused features 0x\(String(refused.rawValue, radix: 16)) (FEATURES_OK read back clear), "
            + "which it took when its driver set FEATURES_OK at line \(taken.place.line)"
    }
}
