import VirtioModel

/// A device accepts any valid subset of the features it offers: when the driver's read-back
/// of `device_status` after FEATURES_OK shows the bit clear (the device refused), the set it
/// refused was invalid. Judged on virtio-pci where the trace has `memory_region_ops_read`,
/// when the driver read both words of the offer: a set is valid when it is a subset of the
/// offer, has VIRTIO_F_VERSION_1 and, if offered, VIRTIO_F_ACCESS_PLATFORM (without them a
/// device may refuse, §6.1), and meets its device type's requirements (§5.1.3.1 for a network
/// device; block, console, entropy and input devices state none). Other device types are not
/// judged.
///
/// Spec: virtio v1.2 §2.2.2 (1.1: §2.2.2) "The device SHOULD accept any valid subset of
/// features the driver accepts, otherwise it MUST fail to set the FEATURES_OK device status
/// bit when the driver writes it."
enum FeaturesOKReject {
    static let info = RuleInfo(
        id: "FEAT-FEATURES_OK-REJECT", severity: .warning, section: "2.2.2", section11: "2.2.2",
        summary: "a device accepts any valid subset of its offered features (it refuses by leaving FEATURES_OK clear)",
        party: .device,
        evidence: "virtio-pci device_feature and device_status reads (memory_region_ops_read), the driver features written")

    /// The device types whose feature requirements vqscope knows all of.
    static let judgedTypes: Set<DeviceType> = [.network, .block, .console, .entropy, .input]

    /// What is wrong with a read of `device_status` returning `status`; nil when it is allowed
    /// or not a refusal.
    static func check(statusRead status: DeviceStatus, device: DeviceContext) -> String? {
        guard let refused = Self.refusedFeatures(status, device: device), let type = device.type, Self.judgedTypes.contains(type),
            let low = device.offeredFeatureWords.low, let high = device.offeredFeatureWords.high
        else { return nil }
        let offer = FeatureBits(rawValue: UInt64(high) << 32 | UInt64(low))
        let accessPlatform = FeatureBits(bit: 33)
        guard refused.rawValue & ~offer.rawValue == 0, refused.contains(.version1),
            !offer.contains(accessPlatform) || refused.contains(accessPlatform),
            FeatureRequirement.unmet(in: refused, device: type).isEmpty
        else { return nil }
        return "the device refused features 0x\(String(refused.rawValue, radix: 16)) (FEATURES_OK read back clear): "
            + "a subset of its offer 0x\(String(offer.rawValue, radix: 16)) with VERSION_1 and every requirement met"
    }

    /// The features the device refused, when `status` is the read-back after FEATURES_OK and
    /// shows it clear.
    static func refusedFeatures(_ status: DeviceStatus, device: DeviceContext) -> FeatureBits? {
        guard device.featuresOKUnread != nil, !status.contains(.featuresOK) else { return nil }
        return device.featureWordsAtFeaturesOK?.features
    }
}
