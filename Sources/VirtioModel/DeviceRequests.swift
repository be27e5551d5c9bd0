/// The `type` of a virtio-blk request header. Spec: virtio v1.2 §5.2.6.
public enum BlockRequestType: UInt32, Sendable, CaseIterable {
    case read = 0  // VIRTIO_BLK_T_IN
    case write = 1  // VIRTIO_BLK_T_OUT
    case flush = 4
    case getID = 8
    case getLifetime = 10
    case discard = 11
    case writeZeroes = 13
    case secureErase = 14

    /// The spec constant's suffix: `IN`, `OUT`, `FLUSH`, …
    public var name: String {
        switch self {
        case .read: return "IN"
        case .write: return "OUT"
        case .flush: return "FLUSH"
        case .getID: return "GET_ID"
        case .getLifetime: return "GET_LIFETIME"
        case .discard: return "DISCARD"
        case .writeZeroes: return "WRITE_ZEROES"
        case .secureErase: return "SECURE_ERASE"
        }
    }

    /// The feature bit that makes the device support the type (§5.2.3), nil for IN, OUT and
    /// GET_ID, which every device supports.
    public var gatingFeature: Int? {
        switch self {
        case .read, .write, .getID: return nil
        case .flush: return 9  // VIRTIO_BLK_F_FLUSH
        case .getLifetime: return 15  // VIRTIO_BLK_F_LIFETIME
        case .discard: return 13  // VIRTIO_BLK_F_DISCARD
        case .writeZeroes: return 14  // VIRTIO_BLK_F_WRITE_ZEROES
        case .secureErase: return 16  // VIRTIO_BLK_F_SECURE_ERASE
        }
    }

    /// The request header: le32 type, le32 reserved (ioprio in legacy), le64 sector.
    public static let headerSize = 16
    /// The bytes of one sector, the unit of IN and OUT data (§5.2.6.1).
    public static let sectorSize = 512
}

/// The first 10 bytes of `struct virtio_net_hdr`, common to every header size.
/// Spec: virtio v1.2 §5.1.6.
public struct NetHeader: Sendable, Equatable {
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM (1), DATA_VALID (2), RSC_INFO (4).
    public var flags: UInt8
    /// VIRTIO_NET_HDR_GSO_NONE (0), TCPV4 (1), UDP (3), TCPV6 (4), UDP_L4 (5), with the ECN bit (0x80).
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    public static let needsChecksum: UInt8 = 1
    public static let dataValid: UInt8 = 2
    public static let rscInfo: UInt8 = 4
    public static let gsoECN: UInt8 = 0x80

    /// Decodes the 10 common bytes (little-endian, as VIRTIO 1.x requires).
    public init(bytes: [UInt8]) throws(DecodeError) {
        var cursor = ByteCursor(bytes)
        self.flags = try cursor.read()
        self.gsoType = try cursor.read()
        self.headerLength = try cursor.read()
        self.gsoSize = try cursor.read()
        self.checksumStart = try cursor.read()
        self.checksumOffset = try cursor.read()
    }

    /// The GSO type's name without the ECN bit (`TCPV4`, `UDP`, `TCPV6`, `UDP_L4`), or its
    /// value in hex where the spec defines none.
    public var gsoTypeName: String {
        switch self.gsoType & ~Self.gsoECN {
        case 1: return "TCPV4"
        case 3: return "UDP"
        case 4: return "TCPV6"
        case 5: return "UDP_L4"
        default: return "0x\(String(self.gsoType, radix: 16))"
        }
    }

    /// What a header asking for segmentation (`gso_type` other than GSO_NONE) lacks of what
    /// goes with it, for the driver's (§5.1.6.2.1) and the device's (§5.1.6.4.1) alike:
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM and a `gso_size`. Empty for GSO_NONE.
    public var segmentationLacks: [String] {
        guard self.gsoType != 0 else { return [] }
        return (self.flags & Self.needsChecksum == 0 ? ["VIRTIO_NET_HDR_F_NEEDS_CSUM"] : [])
            + (self.gsoSize == 0 ? ["a gso_size"] : [])
    }

    /// The feature bit a transmitted GSO type needs (§5.1.6.2.1), nil for GSO_NONE and for
    /// values the spec does not define.
    public static func transmitFeature(gsoType: UInt8) -> (name: String, bit: Int)? {
        switch gsoType & ~Self.gsoECN {
        case 1: return ("TCPV4", 11)  // VIRTIO_NET_F_HOST_TSO4
        case 3: return ("UDP", 14)  // VIRTIO_NET_F_HOST_UFO
        case 4: return ("TCPV6", 12)  // VIRTIO_NET_F_HOST_TSO6
        case 5: return ("UDP_L4", 56)  // VIRTIO_NET_F_HOST_USO
        default: return nil
        }
    }

    /// The feature bits of which a received GSO type needs one (§5.1.6.4.1), nil for GSO_NONE
    /// and for values the spec does not define: TCPV4 GUEST_TSO4, UDP GUEST_UFO, TCPV6
    /// GUEST_TSO6, UDP_L4 GUEST_USO4 or GUEST_USO6.
    public static func receiveFeatures(gsoType: UInt8) -> [Int]? {
        switch gsoType & ~Self.gsoECN {
        case 1: return [7]
        case 3: return [10]
        case 4: return [8]
        case 5: return [54, 55]
        default: return nil
        }
    }

    /// The header a driver and device use with these negotiated features: 12 bytes with
    /// VERSION_1 or MRG_RXBUF (the `num_buffers` field), 10 without (legacy), 20 with
    /// HASH_REPORT (the hash fields).
    public static func size(features: FeatureBits) -> Int {
        if features.contains(bit: 57) { return 20 }  // VIRTIO_NET_F_HASH_REPORT
        return features.contains(.version1) || features.contains(.netMergeableRxBuffers) ? 12 : 10
    }

    /// `num_buffers` (bytes 10–11, §5.1.6) of the header at the start of `bytes`, where a header
    /// of `headerSize` bytes has it (12 or more) and the bytes hold it; nil otherwise.
    public static func numBuffers(in bytes: [UInt8], headerSize: Int) -> UInt16? {
        guard headerSize >= 12 else { return nil }
        return try? ByteCursor(bytes).peek(UInt16.self, at: 10)
    }

    /// The receive buffer a driver should post without MRG_RXBUF: room for the largest packet
    /// (§5.1.6.3.1): 65562 bytes with GUEST_TSO4, GUEST_TSO6 or GUEST_UFO, else 1526 (a 1514-byte
    /// frame and the 12-byte header).
    public static func minimumReceiveBuffer(features: FeatureBits) -> Int {
        [7, 8, 10].contains { features.contains(bit: $0) } ? 65_562 : 1_526
    }
}

/// The start of a virtio-net control queue request: `u8 class; u8 command;`, then the
/// command's data (device-readable) and the `u8 ack` the device writes.
/// Spec: virtio v1.2 §5.1.6.5.
public struct NetControlCommand: Sendable, Equatable {
    public var commandClass: UInt8
    public var command: UInt8

    public init(commandClass: UInt8, command: UInt8) {
        self.commandClass = commandClass
        self.command = command
    }

    /// VIRTIO_NET_CTRL_RX, _MAC and _MQ.
    public static let receiveClass: UInt8 = 0
    public static let macClass: UInt8 = 1
    public static let multiqueueClass: UInt8 = 4

    /// VIRTIO_NET_CTRL_MAC_TABLE_SET (class MAC) and VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (class
    /// GUEST_OFFLOADS, 5).
    public static let macTableSet = NetControlCommand(commandClass: 1, command: 0)
    public static let guestOffloadsSet = NetControlCommand(commandClass: 5, command: 0)

    /// The spec's name, `RX_PROMISC`, `MAC_TABLE_SET`, …; `class 7 command 0` for others.
    public var name: String {
        let names: [UInt8: [String]] = [
            0: ["RX_PROMISC", "RX_ALLMULTI", "RX_ALLUNI", "RX_NOMULTI", "RX_NOUNI", "RX_NOBCAST"],
            1: ["MAC_TABLE_SET", "MAC_ADDR_SET"], 2: ["VLAN_ADD", "VLAN_DEL"], 3: ["ANNOUNCE_ACK"],
            4: ["MQ_VQ_PAIRS_SET", "MQ_RSS_CONFIG", "MQ_HASH_CONFIG"], 5: ["GUEST_OFFLOADS_SET"],
        ]
        guard let list = names[self.commandClass], Int(self.command) < list.count else {
            return "class \(self.commandClass) command \(self.command)"
        }
        return list[Int(self.command)]
    }

    /// The feature bit the driver must have negotiated to send the command, nil where the spec
    /// names none: RX_PROMISC and RX_ALLMULTI need CTRL_RX (18), the other RX commands
    /// CTRL_RX_EXTRA (20) (§5.1.6.5.1.2); every MAC class command CTRL_RX (§5.1.6.5.2.2);
    /// MQ_RSS_CONFIG RSS (60) (§5.1.6.5.7.2).
    public var requiredFeature: Int? {
        switch (self.commandClass, self.command) {
        case (Self.receiveClass, 0...1): return 18
        case (Self.receiveClass, 2...5): return 20
        case (Self.macClass, _): return 18
        case (Self.multiqueueClass, 1): return 60
        default: return nil
        }
    }

    /// The offloads GUEST_OFFLOADS_SET turns on, each the bit of its feature: GUEST_CSUM,
    /// GUEST_TSO4, GUEST_TSO6, GUEST_ECN, GUEST_UFO, GUEST_USO4, GUEST_USO6 (§5.1.6.5.8.1).
    public static let guestOffloads = FeatureBits(rawValue: [1, 7, 8, 9, 10, 54, 55].reduce(0) { $0 | 1 << UInt64($1) })
}
