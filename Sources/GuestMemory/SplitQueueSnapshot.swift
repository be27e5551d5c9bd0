import VirtioModel

/// The rings of a split virtqueue as they stood in a dump. Spec: virtio v1.2 §2.7.6, §2.7.8.
public struct SplitQueueSnapshot: Sendable {
    public let addresses: QueueAddresses
    public let avail: AvailRing
    public let usedFlags: UsedFlags
    public let usedIndex: RingIndex
    public let used: [UsedElement]
    /// `avail_event`, present with EVENT_IDX.
    public let availEvent: UInt16?

    /// Reads the available and used rings; both must lie wholly in the dump.
    public init(memory: GuestMemoryMap, addresses: QueueAddresses, eventIndex: Bool) throws(MemoryError) {
        let layout = SplitRingLayout(queueSize: Int(addresses.size))
        let availLength = layout.availRingSize - (eventIndex ? 0 : 2)
        let usedLength = layout.usedRingSize - (eventIndex ? 0 : 2)
        var availCursor = try memory.cursor(at: addresses.driverArea, length: availLength)
        var usedCursor = try memory.cursor(at: addresses.deviceArea, length: usedLength)
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
