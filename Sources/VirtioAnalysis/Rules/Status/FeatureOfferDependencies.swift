import VirtioModel

/// The device offers no feature without the features it requires (a network device's
/// GUEST_TSO4 needs GUEST_CSUM, MQ needs CTRL_VQ, … — the list of §5.1.3.1, which
/// NET-FEAT-DEPS applies to the driver's side). Judged by `vqscope record`, which has the
/// offer from QMP (`host-features`), once per device and run: an offer does not change.
///
/// Spec: virtio v1.2 §2.2.2 "The device MUST NOT offer a feature which requires another
/// feature which was not offered."
enum FeatureOfferDependencies {
    static let info = RuleInfo(
        id: "FEAT-OFFER-DEPS", severity: .error, section: "2.2.2",
        summary: "the device offers no feature without the features it requires (recordings)",
        party: .device, evidence: "a recording: QMP's host-features of a device, against the requirements of §5.1.3.1")

    /// What the offer breaks, nil when it holds together.
    static func message(offered: FeatureBits, type: DeviceType) -> String? {
        let unmet = FeatureRequirement.unmet(in: offered, device: type)
        guard !unmet.isEmpty else { return nil }
        let name = { (bit: Int) in Feature.named(bit: bit, device: type)?.name ?? "bit \(bit)" }
        let broken = unmet.map { "\(name($0.feature)) without \($0.missing.map(name).joined(separator: " or "))" }
        return "the device offers \(broken.joined(separator: ", ")) (offered 0x\(String(offered.rawValue, radix: 16)))"
    }
}
