import VirtioModel

/// The driver accepts no feature bit the spec reserves: bits 42 to 49, between the
/// device-independent bits (24 to 41) and the device-specific ones from 50. Judged when the
/// trace ends, on each different set of features the driver accepted, at the status write
/// where it first did.
///
/// Spec: virtio v1.2 §2.2 (bits 41 to 49 "reserved for future extensions"; VIRTIO 1.3 gives
/// 41 to VIRTIO_F_ADMIN_VQ, so 41 is not judged) and §2.2.1 "The driver MUST NOT accept a
/// feature which the device did not offer" — a device offers no reserved bit (§2.2.2); the
/// 1.3 text says so of reserved bits in so many words.
struct FeatureReservedBits: DeviceSummaryRule {
    static let info = RuleInfo(
        id: "FEAT-RESERVED-BITS", severity: .error, section: "2.2.1",
        summary: "the driver accepts no reserved feature bit (42 to 49)",
        party: .driver,
        evidence: "the driver features written (virtio-mmio DriverFeatures, virtio-pci driver_feature) when FEATURES_OK is set")

    /// Bits 42 to 49.
    static let reserved = FeatureBits(rawValue: (0xff as UInt64) << 42)

    static func check(device: DeviceState) -> [SummaryFinding] {
        device.acceptedFeatureSets.compactMap { accepted in
            let found = accepted.features.rawValue & Self.reserved.rawValue
            guard found != 0 else { return nil }
            let bits = (42...49).filter { found & (1 << UInt64($0)) != 0 }.map(String.init)
            return SummaryFinding(
                message: "the driver accepted reserved feature bit(s) \(bits.joined(separator: ", ")) "
                    + "(features 0x\(String(accepted.features.rawValue, radix: 16)))",
                line: accepted.place.line, timestamp: accepted.place.timestamp)
        }
    }
}
