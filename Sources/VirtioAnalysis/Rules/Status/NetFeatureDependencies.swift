import VirtioModel

/// The driver of a network device accepts no feature without the features it requires
/// (GUEST_TSO4 needs GUEST_CSUM, MQ needs CTRL_VQ, …). Judged when the trace ends, when the
/// device's type is known, on each different set of features the driver accepted, at the status
/// write where it first did.
///
/// Spec: virtio v1.2 §2.2.1 "The driver … MUST NOT accept a feature which requires another
/// feature which was not accepted", §5.1.3.1 (which network features require which).
struct NetFeatureDependencies: DeviceSummaryRule {
    static let info = RuleInfo(
        id: "NET-FEAT-DEPS", severity: .error, section: "5.1.3.1",
        summary: "the driver accepts no network feature without the features it requires",
        party: .driver,
        evidence: "the driver features written (virtio-mmio DriverFeatures, virtio-pci driver_feature) when FEATURES_OK is set, on a network device")

    static func check(device: DeviceState) -> [SummaryFinding] {
        guard device.type == .network else { return [] }
        let name = { (bit: Int) in Feature.named(bit: bit, device: .network)?.name ?? "bit \(bit)" }
        return device.acceptedFeatureSets.compactMap { accepted in
            let unmet = FeatureRequirement.unmet(in: accepted.features, device: .network)
            guard !unmet.isEmpty else { return nil }
            let broken = unmet.map { "\(name($0.feature)) without \($0.missing.map(name).joined(separator: " or "))" }
            return SummaryFinding(
                message: "the driver accepted \(broken.joined(separator: ", ")) (features 0x\(String(accepted.features.rawValue, radix: 16)))",
                line: accepted.place.line, timestamp: accepted.place.timestamp)
        }
    }
}
