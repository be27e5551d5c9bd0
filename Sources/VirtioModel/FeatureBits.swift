/// A set of negotiated or offered feature bits (bits 0–63).
///
/// Bits 64–127 exist in the spec's feature space but no device type in VIRTIO 1.2
/// defines one, so they are not modelled here.
///
/// Spec: virtio v1.2 §2.2 "Feature Bits", §6 "Reserved Feature Bits".
public struct FeatureBits: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(bit: Int) { self.rawValue = bit >= 0 && bit < 64 ? 1 << UInt64(bit) : 0 }

    public func contains(bit: Int) -> Bool { bit >= 0 && bit < 64 && self.rawValue & (1 << UInt64(bit)) != 0 }

    /// The set bits, lowest first.
    public var bits: [Int] { (0..<64).filter { self.contains(bit: $0) } }

    /// Spec names of the set bits for a device type (`VIRTIO_F_VERSION_1`, `VIRTIO_NET_F_MAC`, …).
    public func names(for device: DeviceType?) -> [String] {
        self.bits.map { Feature.named(bit: $0, device: device)?.name ?? "bit \($0)" }
    }

    /// The corresponding spec constant is `VIRTIO_F_INDIRECT_DESC` (28).
    public static let indirectDescriptors = FeatureBits(bit: 28)
    /// The corresponding spec constant is `VIRTIO_F_EVENT_IDX` (29).
    public static let eventIndex = FeatureBits(bit: 29)
    /// The corresponding spec constant is `VIRTIO_F_VERSION_1` (32).
    public static let version1 = FeatureBits(bit: 32)
    /// The corresponding spec constant is `VIRTIO_F_RING_PACKED` (34).
    public static let ringPacked = FeatureBits(bit: 34)
    /// The corresponding spec constant is `VIRTIO_F_IN_ORDER` (35).
    public static let inOrder = FeatureBits(bit: 35)
    /// The corresponding spec constant is `VIRTIO_NET_F_MTU` (3).
    public static let netMTU = FeatureBits(bit: 3)
    /// The corresponding spec constant is `VIRTIO_NET_F_MRG_RXBUF` (15).
    public static let netMergeableRxBuffers = FeatureBits(bit: 15)
    /// The corresponding spec constant is `VIRTIO_NET_F_CTRL_VQ` (17).
    public static let netControlQueue = FeatureBits(bit: 17)
    /// The corresponding spec constant is `VIRTIO_BLK_F_ZONED` (17, virtio 1.3 §5.2.3).
    public static let blockZoned = FeatureBits(bit: 17)
    /// The corresponding spec constant is `VIRTIO_NET_F_MQ` (22).
    public static let netMultiqueue = FeatureBits(bit: 22)
    /// The corresponding spec constant is `VIRTIO_NET_F_RSS` (60).
    public static let netRSS = FeatureBits(bit: 60)
    /// The corresponding spec constant is `VIRTIO_CONSOLE_F_MULTIPORT` (1).
    public static let consoleMultiport = FeatureBits(bit: 1)

    /// The bits of a list of spec names for a device type; QEMU's older `VIRTIO_RING_F_…`
    /// spellings of EVENT_IDX and INDIRECT_DESC are accepted. Unknown names are left out.
    public init(names: [String], device: DeviceType?) {
        var raw: UInt64 = 0
        for name in names {
            let spec = name.hasPrefix("VIRTIO_RING_F_") ? "VIRTIO_F_" + name.dropFirst("VIRTIO_RING_F_".count) : name
            if let feature = Feature.named(spec, device: device) { raw |= 1 << UInt64(feature.bit) }
        }
        self.init(rawValue: raw)
    }
}

/// One named feature bit.
public struct Feature: Sendable, Hashable {
    public let bit: Int
    /// The spec constant, e.g. `VIRTIO_NET_F_MRG_RXBUF`.
    public let name: String
    /// The device type that defines it; `nil` for the device-independent bits 24–41.
    public let device: DeviceType?
    /// True for bits that only the legacy interface defines.
    public let legacyOnly: Bool

    init(_ bit: Int, _ name: String, _ device: DeviceType?, legacyOnly: Bool = false) {
        self.bit = bit
        self.name = name
        self.device = device
        self.legacyOnly = legacyOnly
    }

    /// The feature for a bit number, device-independent bits first.
    public static func named(bit: Int, device: DeviceType?) -> Feature? {
        if let common = Feature.common.first(where: { $0.bit == bit }) { return common }
        guard let device else { return nil }
        return Feature.deviceSpecific(device).first(where: { $0.bit == bit })
    }

    /// The feature with a spec name, device-independent bits first.
    public static func named(_ name: String, device: DeviceType?) -> Feature? {
        if let common = Feature.common.first(where: { $0.name == name }) { return common }
        guard let device else { return nil }
        return Feature.deviceSpecific(device).first(where: { $0.name == name })
    }

    /// Device-independent bits. Spec: virtio v1.2 §6; ADMIN_VQ from 1.3.
    public static let common: [Feature] = [
        Feature(24, "VIRTIO_F_NOTIFY_ON_EMPTY", nil, legacyOnly: true),
        Feature(27, "VIRTIO_F_ANY_LAYOUT", nil, legacyOnly: true),
        Feature(28, "VIRTIO_F_INDIRECT_DESC", nil),
        Feature(29, "VIRTIO_F_EVENT_IDX", nil),
        Feature(30, "VIRTIO_F_UNUSED", nil, legacyOnly: true),
        Feature(32, "VIRTIO_F_VERSION_1", nil),
        Feature(33, "VIRTIO_F_ACCESS_PLATFORM", nil),
        Feature(34, "VIRTIO_F_RING_PACKED", nil),
        Feature(35, "VIRTIO_F_IN_ORDER", nil),
        Feature(36, "VIRTIO_F_ORDER_PLATFORM", nil),
        Feature(37, "VIRTIO_F_SR_IOV", nil),
        Feature(38, "VIRTIO_F_NOTIFICATION_DATA", nil),
        Feature(39, "VIRTIO_F_NOTIF_CONFIG_DATA", nil),
        Feature(40, "VIRTIO_F_RING_RESET", nil),
        Feature(41, "VIRTIO_F_ADMIN_VQ", nil),
    ]

    /// Feature bits a device type defines. Spec: virtio v1.2 §5.1.3, §5.2.3, §5.3.3, §5.4.3, §5.8.3
    /// (net bits 50–53 from 1.3 and 1.4).
    public static func deviceSpecific(_ device: DeviceType) -> [Feature] {
        switch device {
        case .network: return Feature.net
        case .block: return Feature.block
        case .console: return Feature.console
        default: return []  // entropy and input define no feature bits
        }
    }

    static let net: [Feature] = [
        (0, "CSUM"), (1, "GUEST_CSUM"), (2, "CTRL_GUEST_OFFLOADS"), (3, "MTU"), (5, "MAC"),
        (7, "GUEST_TSO4"), (8, "GUEST_TSO6"), (9, "GUEST_ECN"), (10, "GUEST_UFO"), (11, "HOST_TSO4"),
        (12, "HOST_TSO6"), (13, "HOST_ECN"), (14, "HOST_UFO"), (15, "MRG_RXBUF"), (16, "STATUS"),
        (17, "CTRL_VQ"), (18, "CTRL_RX"), (19, "CTRL_VLAN"), (20, "CTRL_RX_EXTRA"), (21, "GUEST_ANNOUNCE"),
        (22, "MQ"), (23, "CTRL_MAC_ADDR"), (50, "DEVICE_STATS"), (51, "HASH_TUNNEL"), (52, "VQ_NOTF_COAL"),
        (53, "NOTF_COAL"), (54, "GUEST_USO4"), (55, "GUEST_USO6"), (56, "HOST_USO"),
        (57, "HASH_REPORT"), (59, "GUEST_HDRLEN"), (60, "RSS"), (61, "RSC_EXT"), (62, "STANDBY"),
        (63, "SPEED_DUPLEX"),
    ].map { Feature($0.0, "VIRTIO_NET_F_" + $0.1, .network) } + [Feature(6, "VIRTIO_NET_F_GSO", .network, legacyOnly: true)]

    static let block: [Feature] = [
        (1, "SIZE_MAX"), (2, "SEG_MAX"), (4, "GEOMETRY"), (5, "RO"), (6, "BLK_SIZE"), (9, "FLUSH"),
        (10, "TOPOLOGY"), (11, "CONFIG_WCE"), (12, "MQ"), (13, "DISCARD"), (14, "WRITE_ZEROES"),
        (15, "LIFETIME"), (16, "SECURE_ERASE"),
    ].map { Feature($0.0, "VIRTIO_BLK_F_" + $0.1, .block) } + [
        Feature(0, "VIRTIO_BLK_F_BARRIER", .block, legacyOnly: true),
        Feature(7, "VIRTIO_BLK_F_SCSI", .block, legacyOnly: true),
    ]

    static let console: [Feature] = [
        Feature(0, "VIRTIO_CONSOLE_F_SIZE", .console),
        Feature(1, "VIRTIO_CONSOLE_F_MULTIPORT", .console),
        Feature(2, "VIRTIO_CONSOLE_F_EMERG_WRITE", .console),
    ]
}
