/// Flags of a split-ring descriptor.
///
/// Spec: virtio v1.2 §2.7.5 "The Virtqueue Descriptor Table".
public struct DescriptorFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The buffer continues in `next`. The corresponding spec constant is `VIRTQ_DESC_F_NEXT` (1).
    public static let next = DescriptorFlags(rawValue: 1)
    /// The buffer is device-writable. The corresponding spec constant is `VIRTQ_DESC_F_WRITE` (2).
    public static let write = DescriptorFlags(rawValue: 2)
    /// The buffer holds an indirect descriptor table. The corresponding spec constant is `VIRTQ_DESC_F_INDIRECT` (4).
    public static let indirect = DescriptorFlags(rawValue: 4)
}

/// One entry of a split virtqueue's descriptor table (16 bytes).
///
/// Spec: virtio v1.2 §2.7.5.
public struct SplitDescriptor: Sendable, Hashable {
    /// Size of one descriptor: le64 addr + le32 len + le16 flags + le16 next = 16 bytes.
    public static let size = 16

    public var address: UInt64
    public var length: UInt32
    public var flags: DescriptorFlags
    public var next: UInt16

    public init(address: UInt64, length: UInt32, flags: DescriptorFlags, next: UInt16) {
        self.address = address
        self.length = length
        self.flags = flags
        self.next = next
    }

    /// ```
    /// 0       8       12      14      16
    /// +-------+-------+-------+-------+
    /// | addr  |  len  | flags | next  |
    /// +-------+-------+-------+-------+
    /// ```
    public init(parsing cursor: inout ByteCursor) throws(DecodeError) {
        var probe = cursor
        self.address = try probe.read(UInt64.self)
        self.length = try probe.read(UInt32.self)
        self.flags = DescriptorFlags(rawValue: try probe.read(UInt16.self))
        self.next = try probe.read(UInt16.self)
        cursor = probe
    }

    /// The guest-physical end of the buffer, or `nil` when `address + length` overflows.
    public var end: UInt64? {
        let (sum, overflow) = self.address.addingReportingOverflow(UInt64(self.length))
        return overflow ? nil : sum
    }
}

/// Flags of the available ring. Spec: virtio v1.2 §2.7.6, §2.7.7.
public struct AvailFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The corresponding spec constant is `VIRTQ_AVAIL_F_NO_INTERRUPT` (1).
    public static let noInterrupt = AvailFlags(rawValue: 1)
}

/// Flags of the used ring. Spec: virtio v1.2 §2.7.8, §2.7.10.
public struct UsedFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The corresponding spec constant is `VIRTQ_USED_F_NO_NOTIFY` (1).
    public static let noNotify = UsedFlags(rawValue: 1)
}

/// The `flags` word of a split ring's available or used ring: one defined bit, which asks
/// the other side not to notify; with VIRTIO_F_EVENT_IDX the event indices say that instead
/// and the word stays 0.
///
/// Spec: virtio v1.2 §2.7.7.1 ("If the VIRTIO_F_EVENT_IDX feature bit is not negotiated: The
/// driver MUST set flags to 0 or 1 … Otherwise … The driver MUST set flags to 0"), §2.7.10.2
/// (the same of the device and the used ring).
public protocol RingFlags: OptionSet, Sendable where RawValue == UInt16 {}

extension RingFlags {
    /// Whether the side that writes the word may write this value: 0 or 1 without
    /// VIRTIO_F_EVENT_IDX, only 0 with it; `eventIndex` nil (not known): 0 or 1.
    public func isAllowed(eventIndex: Bool?) -> Bool {
        self.rawValue == 0 || (self.rawValue == 1 && eventIndex != true)
    }
}

extension AvailFlags: RingFlags {}
extension UsedFlags: RingFlags {}

/// A 16-bit free-running ring index; arithmetic wraps modulo 2^16.
///
/// Spec: virtio v1.2 §2.7.6 ("idx … wraps naturally at 65536").
public struct RingIndex: Sendable, Hashable, RawRepresentable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// How far `other` is ahead of `self`, modulo 2^16.
    public func distance(to other: RingIndex) -> Int { Int(other.rawValue &- self.rawValue) }
    public func advanced(by count: UInt16) -> RingIndex { RingIndex(rawValue: self.rawValue &+ count) }
    /// The ring slot this index refers to in a queue of `size` entries.
    public func slot(queueSize size: UInt16) -> Int { size == 0 ? 0 : Int(self.rawValue % size) }
}

/// The available ring header and entries (driver area of a split queue).
///
/// Spec: virtio v1.2 §2.7.6.
public struct AvailRing: Sendable, Hashable {
    public var flags: AvailFlags
    public var index: RingIndex
    public var ring: [UInt16]
    /// `used_event`, present only when EVENT_IDX is negotiated.
    public var usedEvent: UInt16?

    /// ```
    /// 0      2      4                4+2N        6+2N
    /// +------+------+----------------+-----------+
    /// |flags | idx  | ring[N] (le16) |used_event |
    /// +------+------+----------------+-----------+
    /// ```
    public init(parsing cursor: inout ByteCursor, queueSize: UInt16, eventIndex: Bool) throws(DecodeError) {
        var probe = cursor
        self.flags = AvailFlags(rawValue: try probe.read(UInt16.self))
        self.index = RingIndex(rawValue: try probe.read(UInt16.self))
        var ring: [UInt16] = []
        ring.reserveCapacity(Int(queueSize))
        for _ in 0..<Int(queueSize) { ring.append(try probe.read(UInt16.self)) }
        self.ring = ring
        self.usedEvent = eventIndex ? try probe.read(UInt16.self) : nil
        cursor = probe
    }
}

/// One used-ring element: the head of a returned chain and the bytes written.
///
/// Spec: virtio v1.2 §2.7.8.
public struct UsedElement: Sendable, Hashable {
    /// le32 id + le32 len.
    public static let size = 8
    /// Head descriptor index of the returned chain (le32 for padding; values ≥ queue size are invalid).
    public var id: UInt32
    /// Bytes written into the device-writable part of the chain.
    public var length: UInt32

    public init(id: UInt32, length: UInt32) {
        self.id = id
        self.length = length
    }

    public init(parsing cursor: inout ByteCursor) throws(DecodeError) {
        var probe = cursor
        self.id = try probe.read(UInt32.self)
        self.length = try probe.read(UInt32.self)
        cursor = probe
    }
}

/// Sizes and alignment of the three parts of a split virtqueue.
///
/// Spec: virtio v1.2 §2.7 (table of sizes and alignments) and §2.7.2 (legacy layout).
public struct SplitRingLayout: Sendable, Hashable {
    /// Maximum split queue size: 32768. Spec §2.7: "Queue Size … maximum is 32768".
    public static let maximumQueueSize = 32768
    /// Descriptor table alignment (16), avail ring (2), used ring (4). Spec §2.7.1.
    public static let descriptorAlignment: UInt64 = 16
    public static let availAlignment: UInt64 = 2
    public static let usedAlignment: UInt64 = 4

    public let queueSize: Int
    public init(queueSize: Int) { self.queueSize = queueSize }

    /// A split queue size must be a power of two from 1 to 32768. Spec §2.7.
    public var isValidSize: Bool {
        self.queueSize > 0 && self.queueSize <= Self.maximumQueueSize && self.queueSize & (self.queueSize - 1) == 0
    }

    /// 16 × Queue Size.
    public var descriptorTableSize: Int { 16 * self.queueSize }
    /// flags + idx + ring[N] + used_event = 6 + 2 × Queue Size.
    public var availRingSize: Int { 6 + 2 * self.queueSize }
    /// flags + idx + ring[N] (8 bytes each) + avail_event = 6 + 8 × Queue Size.
    public var usedRingSize: Int { 6 + 8 * self.queueSize }

    /// Offset of the used ring from the descriptor table in the legacy contiguous layout:
    /// descriptor table and avail ring, rounded up to `alignment` (QueueAlign; 4096 unless set).
    /// Spec: virtio v1.2 §2.7.2 "Legacy Interfaces: A Note on Virtqueue Layout".
    public func legacyUsedOffset(alignment: UInt64) -> UInt64? {
        guard alignment > 0, alignment & (alignment - 1) == 0 else { return nil }
        let raw = UInt64(self.descriptorTableSize + self.availRingSize)
        return (raw + alignment - 1) & ~(alignment - 1)
    }

    /// Whether a guest address has the alignment a part requires.
    public static func isAligned(_ address: UInt64, to alignment: UInt64) -> Bool { address % alignment == 0 }
}
