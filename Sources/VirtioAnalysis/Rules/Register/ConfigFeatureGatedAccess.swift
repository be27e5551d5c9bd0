import VirtioModel

/// The driver reads an optional field of the device configuration only when the device offers
/// the feature the field exists with. Judged on virtio-pci where the trace has
/// `memory_region_ops_read`: the offer is what the driver read from `device_feature` (each
/// word as `device_feature_select` named it), and a field whose feature word the driver never
/// read is not judged.
///
/// Spec: virtio v1.2 §2.5.1 (1.1: §2.4.1) "For optional configuration space fields, the
/// driver MUST check that the corresponding feature is offered before accessing that part of
/// the configuration space."
struct ConfigFeatureGatedAccess: ConfigReadRule {
    static let info = RuleInfo(
        id: "CFG-FEATURE-GATED-ACCESS", severity: .error, section: "2.5.1", section11: "2.4.1",
        summary: "the driver reads an optional configuration field only when the device offers its feature",
        party: .driver,
        evidence: "virtio-pci device configuration and device_feature reads (memory_region_ops_read)")

    static func check(_ read: ConfigSpaceRead, device: DeviceContext) -> String? {
        guard let type = device.type, let layout = ConfigLayout.forDevice(type), let field = read.field(in: layout),
            let gate = field.gatingFeature, device.offers(bit: gate) == false
        else { return nil }
        let feature = FeatureBits(bit: gate).names(for: type).first ?? "feature bit \(gate)"
        return "read \(field.name) (configuration offset \(field.offset)), which exists only with \(feature): "
            + "the device does not offer it"
    }
}
