import VirtioModel

/// A device offers VIRTIO_F_VERSION_1 through the modern virtio-pci interface: word 1 of the
/// offer, as the driver reads it from `device_feature` with `device_feature_select` 1, has bit
/// 0 (feature bit 32) set. Judged on the reads `memory_region_ops_read` traces with their
/// values; a legacy-only device has no common configuration structure, and is not judged.
///
/// Spec: virtio v1.2 §6.2 (1.1: §6.2) "A device MUST offer VIRTIO_F_VERSION_1."
enum FeatureVersion1Offer {
    static let info = RuleInfo(
        id: "FEAT-VERSION_1-OFFER", severity: .error, section: "6.2", section11: "6.2",
        summary: "a device offers VIRTIO_F_VERSION_1 through its modern interface",
        party: .device,
        evidence: "virtio-pci device_feature reads with device_feature_select 1 (memory_region_ops_read)")

    /// What is wrong with word `select` of the offer read as `word`; nil when it is allowed or
    /// another word.
    static func check(word: UInt32, select: UInt32) -> String? {
        guard select == 1, word & 1 == 0 else { return nil }
        return "device_feature word 1 read as 0x\(String(word, radix: 16)): the device does not offer VIRTIO_F_VERSION_1 (bit 32) "
            + "through its modern interface"
    }
}
