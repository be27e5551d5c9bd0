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
