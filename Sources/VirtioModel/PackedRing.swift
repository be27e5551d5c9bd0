/// Flags of a packed-ring descriptor.
///
/// Spec: virtio v1.2 §2.8.1, §2.8.13.
public struct PackedDescriptorFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The corresponding spec constant is `VIRTQ_DESC_F_NEXT` (1).
    public static let next = PackedDescriptorFlags(rawValue: 1)
    /// The corresponding spec constant is `VIRTQ_DESC_F_WRITE` (2).
    public static let write = PackedDescriptorFlags(rawValue: 2)
    /// The corresponding spec constant is `VIRTQ_DESC_F_INDIRECT` (4).
    public static let indirect = PackedDescriptorFlags(rawValue: 4)
    /// The corresponding spec constant is `VIRTQ_DESC_F_AVAIL` (1 << 7).
    public static let avail = PackedDescriptorFlags(rawValue: 1 << 7)
    /// The corresponding spec constant is `VIRTQ_DESC_F_USED` (1 << 15).
    public static let used = PackedDescriptorFlags(rawValue: 1 << 15)

    /// Available to the device when AVAIL equals the driver wrap counter and USED is its inverse.
    /// Spec: virtio v1.2 §2.8.1.
    @inlinable
    public func isAvailable(driverWrapCounter: Bool) -> Bool {
        self.contains(.avail) == driverWrapCounter && self.contains(.used) != driverWrapCounter
    }

    /// Used when AVAIL and USED both equal the device wrap counter. Spec: virtio v1.2 §2.8.1.
    @inlinable
    public func isUsed(deviceWrapCounter: Bool) -> Bool {
        self.contains(.avail) == deviceWrapCounter && self.contains(.used) == deviceWrapCounter
    }
}

/// One packed-ring descriptor (16 bytes).
///
/// Spec: virtio v1.2 §2.8.13 "The Virtqueue Descriptor Format".
public struct PackedDescriptor: Sendable, Hashable {
    public static let size = 16
    public var address: UInt64
    public var length: UInt32
    public var bufferID: UInt16
    public var flags: PackedDescriptorFlags

    public init(address: UInt64, length: UInt32, bufferID: UInt16, flags: PackedDescriptorFlags) {
        self.address = address
        self.length = length
        self.bufferID = bufferID
        self.flags = flags
    }

    /// ```
    /// 0       8       12      14      16
    /// +-------+-------+-------+-------+
    /// | addr  |  len  |  id   | flags |
    /// +-------+-------+-------+-------+
    /// ```
    public init(parsing cursor: inout ByteCursor) throws(DecodeError) {
        var probe = cursor
        self.address = try probe.read(UInt64.self)
        self.length = try probe.read(UInt32.self)
        self.bufferID = try probe.read(UInt16.self)
        self.flags = PackedDescriptorFlags(rawValue: try probe.read(UInt16.self))
        cursor = probe
    }

    /// Available to the device (``PackedDescriptorFlags/isAvailable(driverWrapCounter:)``).
    public func isAvailable(driverWrapCounter: Bool) -> Bool { self.flags.isAvailable(driverWrapCounter: driverWrapCounter) }

    /// Used (``PackedDescriptorFlags/isUsed(deviceWrapCounter:)``).
    public func isUsed(deviceWrapCounter: Bool) -> Bool { self.flags.isUsed(deviceWrapCounter: deviceWrapCounter) }
}

/// A packed ring's driver or device event suppression structure (4 bytes).
///
/// Spec: virtio v1.2 §2.8.14 "Event Suppression Structure Format".
public struct EventSuppression: Sendable, Hashable {
    public enum Mode: UInt16, Sendable {
        /// `RING_EVENT_FLAGS_ENABLE` (0).
        case enable = 0
        /// `RING_EVENT_FLAGS_DISABLE` (1).
        case disable = 1
        /// `RING_EVENT_FLAGS_DESC` (2), only with EVENT_IDX.
        case descriptor = 2
        /// Value 3 is reserved.
        case reserved = 3
    }

    /// Descriptor ring offset (bits 0–14) at which to notify, and its wrap counter (bit 15).
    public var offset: UInt16
    public var wrapCounter: Bool
    public var mode: Mode
    /// Bits 2–15 of the flags word, which must be zero.
    public var reservedFlagBits: UInt16

    /// ```
    /// 0                 2                 4
    /// +-----------------+-----------------+
    /// | off:15 wrap:1   | flags:2 rsvd:14 |
    /// +-----------------+-----------------+
    /// ```
    public init(parsing cursor: inout ByteCursor) throws(DecodeError) {
        var probe = cursor
        let descriptor = try probe.read(UInt16.self)
        let flags = try probe.read(UInt16.self)
        self.init(offWrap: descriptor, flags: flags)
        cursor = probe
    }

    /// From the structure's two little-endian 16-bit words.
    @inlinable
    public init(offWrap: UInt16, flags: UInt16) {
        self.offset = offWrap & 0x7FFF
        self.wrapCounter = offWrap & 0x8000 != 0
        self.mode = Mode(rawValue: flags & 3) ?? .reserved
        self.reservedFlagBits = flags >> 2
    }
}

/// Sizes and alignment of a packed virtqueue.
///
/// Spec: virtio v1.2 §2.8.10.1 "Structure Size and Alignment".
public struct PackedRingLayout: Sendable, Hashable {
    /// Maximum packed queue size: 2^15. Spec §2.8.
    public static let maximumQueueSize = 32768
    public static let descriptorAlignment: UInt64 = 16
    public static let eventSuppressionAlignment: UInt64 = 4
    /// Each event suppression area is 4 bytes.
    public static let eventSuppressionSize = 4

    public let queueSize: Int
    public init(queueSize: Int) { self.queueSize = queueSize }

    /// A packed queue size need not be a power of two, but must be 1…32768.
    public var isValidSize: Bool { self.queueSize > 0 && self.queueSize <= Self.maximumQueueSize }
    /// 16 × Queue Size.
    public var descriptorRingSize: Int { 16 * self.queueSize }
}
