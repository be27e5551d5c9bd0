/// A feature bit that needs others: "Some networking feature bits require other networking
/// feature bits". A side may offer (device) or accept (driver) the feature only with them.
///
/// Spec: virtio v1.2 §2.2.1 "The driver … MUST NOT accept a feature which requires another
/// feature which was not accepted", §2.2.2 (the same of the device and offering), §5.1.3.1
/// (the network device's list; USO, notification coalescing and HASH_TUNNEL from 1.3).
public struct FeatureRequirement: Sendable, Equatable {
    /// The feature's bit.
    public let feature: Int
    /// What it needs: every entry, each satisfied by any one of its bits.
    public let needs: [[Int]]

    /// A requirement broken: the feature, and the entry of ``needs`` no bit of which is there.
    public struct Unmet: Sendable, Equatable {
        public let feature: Int
        public let missing: [Int]
    }

    /// The requirements among a device type's features (none outside the network device's).
    public static func of(_ device: DeviceType) -> [FeatureRequirement] {
        device == .network ? Self.network : []
    }

    /// The requirements `features` breaks, in the order §5.1.3.1 lists them.
    public static func unmet(in features: FeatureBits, device: DeviceType) -> [Unmet] {
        Self.of(device).flatMap { requirement -> [Unmet] in
            guard features.contains(bit: requirement.feature) else { return [] }
            return requirement.needs.filter { !$0.contains(where: features.contains(bit:)) }.map {
                Unmet(feature: requirement.feature, missing: $0)
            }
        }
    }

    /// §5.1.3.1, by bit: CSUM 0, GUEST_CSUM 1, GUEST_TSO4 7, GUEST_TSO6 8, HOST_TSO4 11,
    /// HOST_TSO6 12, CTRL_VQ 17, HASH_REPORT 57, RSS 60.
    static let network: [FeatureRequirement] = [
        (7, [[1]]), (8, [[1]]), (9, [[7, 8]]), (10, [[1]]), (54, [[1]]), (55, [[1]]),  // GUEST_TSO4/6, GUEST_ECN, GUEST_UFO, GUEST_USO4/6
        (11, [[0]]), (12, [[0]]), (13, [[11, 12]]), (14, [[0]]), (56, [[0]]),  // HOST_TSO4/6, HOST_ECN, HOST_UFO, HOST_USO
        (18, [[17]]), (19, [[17]]), (21, [[17]]), (22, [[17]]), (23, [[17]]),  // CTRL_RX, CTRL_VLAN, GUEST_ANNOUNCE, MQ, CTRL_MAC_ADDR
        (52, [[17]]), (53, [[17]]), (60, [[17]]), (61, [[11, 12]]),  // VQ_NOTF_COAL, NOTF_COAL, RSS, RSC_EXT
        (51, [[17], [60, 57]]),  // HASH_TUNNEL
    ].map { FeatureRequirement(feature: $0.0, needs: $0.1) }
}
