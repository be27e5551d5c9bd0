import VirtioModel

/// The parts of QEMU's `x-query-virtio-status` reply vqscope reads (QEMU 7.2 and later).
public struct QMPVirtioStatusReply: Decodable, Sendable {
    public struct Features: Decodable, Sendable {
        /// Feature names with QEMU's explanation: `VIRTIO_F_VERSION_1: Device compliant …`.
        public var transports: [String]
        public var devFeatures: [String]?
        /// The bits QEMU has no name for, as a mask (7.2 names no VIRTIO_F_RING_RESET).
        public var unknownDevFeatures: UInt64?
        enum CodingKeys: String, CodingKey {
            case transports
            case devFeatures = "dev-features"
            case unknownDevFeatures = "unknown-dev-features"
        }

        /// The names without QEMU's explanations, transport ones first.
        public var names: [String] { (self.transports + (self.devFeatures ?? [])).map(QMPVirtioStatusReply.featureName) }

        /// The features as bits for a device of `type`: the named ones and the unnamed mask.
        public func bits(device type: DeviceType?) -> FeatureBits {
            FeatureBits(names: self.names, device: type).union(FeatureBits(rawValue: self.unknownDevFeatures ?? 0))
        }
    }

    public struct Statuses: Decodable, Sendable {
        /// `VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready`, …
        public var statuses: [String]
    }

    public var name: String
    public var guestFeatures: Features
    /// What the device offers.
    public var hostFeatures: Features?
    public var numVqs: Int?
    public var status: Statuses?

    enum CodingKeys: String, CodingKey {
        case name, status
        case numVqs = "num-vqs"
        case guestFeatures = "guest-features"
        case hostFeatures = "host-features"
    }

    /// DRIVER_OK is among the status bits.
    public var driverOK: Bool { self.status?.statuses.contains { $0.hasPrefix("VIRTIO_CONFIG_S_DRIVER_OK") } ?? false }


    /// `VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)` → `VIRTIO_F_VERSION_1`.
    public static func featureName(_ described: String) -> String {
        String(described.prefix { $0 != ":" })
    }
}

/// The parts of QEMU's `x-query-virtio-queue-status` reply vqscope reads.
public struct QMPVirtioQueueReply: Decodable, Sendable {
    public var name: String
    public var queueIndex: Int
    public var vringNum: UInt64
    /// The size the device gives the queue at a reset, used while the driver writes none
    /// (QEMU 7.2's `vring-num-default`).
    public var vringNumDefault: UInt64?
    public var vringDesc: UInt64
    public var vringAvail: UInt64
    public var vringUsed: UInt64
    public var usedIdx: UInt64
    public var lastAvailIdx: UInt64?
    public var inuse: Int

    enum CodingKeys: String, CodingKey {
        case name, inuse
        case queueIndex = "queue-index"
        case vringNum = "vring-num"
        case vringNumDefault = "vring-num-default"
        case vringDesc = "vring-desc"
        case vringAvail = "vring-avail"
        case vringUsed = "vring-used"
        case usedIdx = "used-idx"
        case lastAvailIdx = "last-avail-idx"
    }

    /// The rings, when QEMU has them set up (a descriptor table and a size that fits 16 bits;
    /// whether the size is valid is the rules' to judge).
    public var addresses: QueueAddresses? {
        guard self.vringDesc != 0, self.vringNum > 0, self.vringNum <= UInt64(UInt16.max) else { return nil }
        return QueueAddresses(
            descriptorArea: self.vringDesc, driverArea: self.vringAvail, deviceArea: self.vringUsed, size: UInt16(self.vringNum))
    }
}
