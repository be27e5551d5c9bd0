import VirtioModel

/// A packed virtqueue as it stood in a dump: the descriptor ring and both event suppression
/// structures. Spec: virtio v1.2 §2.8.
///
/// Which descriptors the device owns cannot be read from one snapshot: a descriptor is
/// available when its AVAIL flag equals the driver's wrap counter and USED does not (§2.8.1),
/// and the wrap counters live in the driver and in QEMU, not in the ring. The descriptors of
/// a list the device has used keep the flags the driver wrote, except the one the used
/// element was written to. So the snapshot is decoded and counted, not walked.
public struct PackedQueueSnapshot: Sendable {
    public let addresses: QueueAddresses
    public let descriptors: [PackedDescriptor]
    /// Written by the driver: when the device should send used-buffer notifications.
    public let driverEvent: EventSuppression
    /// Written by the device: when the driver should send available-buffer notifications.
    public let deviceEvent: EventSuppression

    /// Reads the descriptor ring and both event suppression structures; all must lie wholly
    /// in the dump.
    public init(memory: GuestMemoryMap, addresses: QueueAddresses) throws(MemoryError) {
        let layout = PackedRingLayout(queueSize: Int(addresses.size))
        var ring = try memory.cursor(at: addresses.descriptorArea, length: layout.descriptorRingSize)
        var driver = try memory.cursor(at: addresses.driverArea, length: PackedRingLayout.eventSuppressionSize)
        var device = try memory.cursor(at: addresses.deviceArea, length: PackedRingLayout.eventSuppressionSize)
        do {
            var descriptors: [PackedDescriptor] = []
            descriptors.reserveCapacity(Int(addresses.size))
            for _ in 0..<Int(addresses.size) { descriptors.append(try PackedDescriptor(parsing: &ring)) }
            self.descriptors = descriptors
            self.driverEvent = try EventSuppression(parsing: &driver)
            self.deviceEvent = try EventSuppression(parsing: &device)
        } catch {
            // The cursors were sized from the layout, so this cannot happen with a valid map.
            throw .unmapped(address: addresses.descriptorArea, length: UInt64(layout.descriptorRingSize))
        }
        self.addresses = addresses
    }

    /// Descriptors whose AVAIL and USED flags differ: made available in some lap and not
    /// (visibly) used: owned by the device, or the untouched tail of a used list.
    public var availableLooking: Int { self.descriptors.filter { $0.flags.contains(.avail) != $0.flags.contains(.used) }.count }

    /// Descriptors whose AVAIL and USED flags are both set: used in an odd lap (or never
    /// touched since, a ring starts zeroed: both clear).
    public var usedLooking: Int { self.descriptors.filter { $0.flags.contains(.avail) && $0.flags.contains(.used) }.count }
}
