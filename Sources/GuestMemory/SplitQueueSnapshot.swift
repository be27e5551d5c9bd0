import VirtioModel

/// Where a split virtqueue lives in guest-physical memory. Spec: virtio v1.2 §2.7.
public struct SplitQueueAddresses: Sendable, Equatable {
    public var descriptorTable: UInt64
    /// The driver area (available ring).
    public var availRing: UInt64
    /// The device area (used ring).
    public var usedRing: UInt64
    public var size: UInt16

    public init(descriptorTable: UInt64, availRing: UInt64, usedRing: UInt64, size: UInt16) {
        self.descriptorTable = descriptorTable
        self.availRing = availRing
        self.usedRing = usedRing
        self.size = size
    }
}

/// The rings of a split virtqueue as they stood in a dump. Spec: virtio v1.2 §2.7.6, §2.7.8.
public struct SplitQueueSnapshot: Sendable {
    public let addresses: SplitQueueAddresses
    public let avail: AvailRing
    public let usedFlags: UsedFlags
    public let usedIndex: RingIndex
    public let used: [UsedElement]
    /// `avail_event`, present with EVENT_IDX.
    public let availEvent: UInt16?

    /// Reads the available and used rings; both must lie wholly in the dump.
    public init(memory: GuestMemoryMap, addresses: SplitQueueAddresses, eventIndex: Bool) throws(MemoryError) {
        let layout = SplitRingLayout(queueSize: Int(addresses.size))
        let availLength = layout.availRingSize - (eventIndex ? 0 : 2)
        let usedLength = layout.usedRingSize - (eventIndex ? 0 : 2)
        var availCursor = try memory.cursor(at: addresses.availRing, length: availLength)
        var usedCursor = try memory.cursor(at: addresses.usedRing, length: usedLength)
        do {
            self.avail = try AvailRing(parsing: &availCursor, queueSize: addresses.size, eventIndex: eventIndex)
            self.usedFlags = UsedFlags(rawValue: try usedCursor.read(UInt16.self))
            self.usedIndex = RingIndex(rawValue: try usedCursor.read(UInt16.self))
            var used: [UsedElement] = []
            used.reserveCapacity(Int(addresses.size))
            for _ in 0..<Int(addresses.size) { used.append(try UsedElement(parsing: &usedCursor)) }
            self.used = used
            self.availEvent = eventIndex ? try usedCursor.read(UInt16.self) : nil
        } catch {
            // The lengths read above are exactly the structures' sizes.
            fatalError("internal inconsistency: ring sizes: \(error)")
        }
        self.addresses = addresses
    }
}
