import Synchronization
import VirtioModel

/// A packed virtqueue as it stood in a dump: the descriptor ring and both event suppression
/// structures. Spec: virtio v1.2 §2.8.
///
/// Which descriptors the device owns cannot be read from the ring alone: a descriptor is
/// available when its AVAIL flag equals the driver's wrap counter and USED does not (§2.8.1),
/// and the wrap counters live in the driver and in QEMU, not in the ring; the descriptors of
/// a list the device has used keep the flags the driver wrote, except the one the used
/// element was written to. Given the device's position (QEMU's `last-avail-idx`),
/// ``availableLists(from:memory:indirectNegotiated:budget:)`` walks the lists made available
/// and not yet fetched; without it the ring is decoded and counted only.
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

extension PackedQueueSnapshot {
    /// The device's wrap counter at ring slot `position`, the next slot it reads (§2.8.1).
    ///
    /// The slot before `position` was read in the device's current lap, so its AVAIL bit is
    /// that lap's wrap counter (at slot 0: the previous lap's, inverted), whether it still holds
    /// the driver's flags or the used descriptor the device wrote over it. The one exception is
    /// a ring the driver has made wholly available: then the slot before `position` already
    /// belongs to the next lap, and every slot reads available, from `position` on with one
    /// wrap counter and past the ring's end with the other.
    func deviceWrapCounter(at position: Int) -> Bool {
        let size = self.descriptors.count
        let previous = self.descriptors[position == 0 ? size - 1 : position - 1].flags.contains(.avail)
        let inferred = position == 0 ? !previous : previous
        let first = self.descriptors[position].flags.contains(.avail)
        guard size > 1, !self.descriptors[position].isAvailable(driverWrapCounter: inferred) else { return inferred }
        let wholeRing = (0..<size).allSatisfy { step in
            let slot = (position + step) % size
            return self.descriptors[slot].isAvailable(driverWrapCounter: slot < position ? !first : first)
        }
        return wholeRing ? first : inferred
    }

    /// The descriptor lists the driver made available from ring slot `position` on, in ring
    /// order, until the first slot that is not available: what the device has yet to read. Each
    /// list is walked like a split chain (§2.8.17: NEXT links to the following slot, wrapping
    /// at the ring's end; §2.8.19: an indirect table's entries in order) and carries its
    /// defects; no more than the ring's size of slots, and no more than `budget` descriptors in
    /// all, are read (`budget` is decreased by what was read).
    public func availableLists(
        from position: UInt16, memory: GuestMemoryMap, indirectNegotiated: Bool?, budget: inout Int
    ) -> [DescriptorChain] {
        let size = self.descriptors.count
        guard Int(position) < size else { return [] }
        var wrapCounter = self.deviceWrapCounter(at: Int(position))
        var slot = Int(position)
        var read = 0
        var lists: [DescriptorChain] = []
        while read < size, budget > 0, self.descriptors[slot].isAvailable(driverWrapCounter: wrapCounter) {
            var list = DescriptorChain(listAt: UInt16(slot))
            var broken = false
            while true {
                let descriptor = self.descriptors[slot]
                if !list.tableIndices.isEmpty, !descriptor.isAvailable(driverWrapCounter: wrapCounter) {
                    list.defects.append(.notAvailable(slot: UInt16(slot)))
                    broken = true
                    break
                }
                let current = UInt16(slot)
                list.tableIndices.append(current)
                list.bufferID = descriptor.bufferID
                read += 1
                budget -= 1
                slot += 1
                if slot == size {
                    slot = 0
                    wrapCounter.toggle()
                }
                list.add(
                    descriptor, slot: current, next: UInt16(slot), memory: memory,
                    indirectNegotiated: indirectNegotiated, budget: &budget)
                guard descriptor.flags.contains(.next) else { break }
                guard read < size else {
                    // Every slot of the ring is in this list and it still goes on.
                    list.defects.append(.tooLong(count: list.elements.count + 1, limit: size))
                    broken = true
                    break
                }
            }
            if list.elements.count > size, !list.defects.contains(where: { if case .tooLong = $0 { true } else { false } }) {
                list.defects.append(.tooLong(count: list.elements.count, limit: size))
            }
            lists.append(list)
            if broken { break }
        }
        return lists
    }
}

extension DescriptorChain {
    /// An empty packed list starting at ring slot `slot`, to be filled by ``add``.
    init(listAt slot: UInt16) {
        self.head = slot
    }

    /// Adds a packed descriptor read at ring slot `slot`: a buffer, or an indirect table whose
    /// entries are read in order (§2.8.19).
    mutating func add(
        _ descriptor: PackedDescriptor, slot: UInt16, next: UInt16, memory: GuestMemoryMap, indirectNegotiated: Bool?,
        budget: inout Int
    ) {
        let flags = DescriptorFlags(rawValue: descriptor.flags.rawValue & 0x7)
        guard descriptor.flags.contains(.indirect) else {
            let buffer = SplitDescriptor(address: descriptor.address, length: descriptor.length, flags: flags, next: next)
            self.appendBuffer(Element(index: slot, descriptor: buffer, indirect: false), memory: memory)
            return
        }
        guard
            self.checkIndirect(
                address: descriptor.address, length: descriptor.length, hasNext: descriptor.flags.contains(.next), at: slot,
                memory: memory, indirectNegotiated: indirectNegotiated)
        else { return }
        let count = Int(descriptor.length / 16)
        guard count <= Self.maximumDescriptors, count <= budget,
            var cursor = try? memory.cursor(at: descriptor.address, length: Int(descriptor.length))
        else {
            self.defects.append(.tooLong(count: count, limit: min(Self.maximumDescriptors, max(budget, 0))))
            return
        }
        budget -= count
        var reportedFlags = false
        for entry in 0..<count {
            guard let item = try? PackedDescriptor(parsing: &cursor) else { return }
            let index = UInt16(truncatingIfNeeded: entry)
            if item.flags.contains(.indirect) {
                self.defects.append(.nestedIndirect(descriptor: index))
                return
            }
            // The device ignores the Buffer ID and every flag but WRITE here (§2.8.19).
            let extra = item.flags.rawValue & ~PackedDescriptorFlags.write.rawValue
            if extra != 0, !reportedFlags {
                self.defects.append(.indirectEntryFlags(entry: index, flags: item.flags.rawValue))
                reportedFlags = true
            }
            let buffer = SplitDescriptor(
                address: item.address, length: item.length, flags: item.flags.contains(.write) ? .write : [], next: index &+ 1)
            self.appendBuffer(Element(index: index, descriptor: buffer, indirect: true), memory: memory)
        }
    }
}

extension PackedQueueSnapshot {
    /// One packed descriptor read from guest memory at `slot` of the ring at `ring`, in place.
    ///
    /// Its flags are read first, and the rest after them: a driver writes a descriptor's flags
    /// last, behind a barrier (§2.8.21.1), so in memory another side is writing (`vqscope
    /// record`) the fields read after flags that say available are at least as new as they.
    /// Read in address order, they could be the previous lap's.
    public static func descriptor(at slot: Int, ring: QueueAddresses, memory: GuestMemoryMap) -> PackedDescriptor? {
        guard let base = Self.descriptorAddress(slot, ring: ring), let flags = memory.value(UInt16.self, at: base &+ 14) else { return nil }
        atomicMemoryFence(ordering: .acquiring)
        guard let address = memory.value(UInt64.self, at: base), let length = memory.value(UInt32.self, at: base &+ 8),
            let id = memory.value(UInt16.self, at: base &+ 12)
        else { return nil }
        return PackedDescriptor(address: address, length: length, bufferID: id, flags: PackedDescriptorFlags(rawValue: flags))
    }

    /// Only the flags of the descriptor at `slot`: enough to tell whether anything is new there.
    public static func flags(at slot: Int, ring: QueueAddresses, memory: GuestMemoryMap) -> PackedDescriptorFlags? {
        guard let base = Self.descriptorAddress(slot, ring: ring), let flags = memory.value(UInt16.self, at: base &+ 14) else { return nil }
        return PackedDescriptorFlags(rawValue: flags)
    }

    /// The guest-physical address of ring slot `slot`, when the whole descriptor's range does not overflow.
    static func descriptorAddress(_ slot: Int, ring: QueueAddresses) -> UInt64? {
        guard slot >= 0, slot < Int(ring.size) else { return nil }
        let (base, overflow) = ring.descriptorArea.addingReportingOverflow(UInt64(slot) &* 16)
        guard !overflow, !base.addingReportingOverflow(UInt64(PackedDescriptor.size)).overflow else { return nil }
        return base
    }

    /// The list the driver made available at `slot` in the lap of `wrapCounter`, read live
    /// from guest memory (`vqscope record`): walked like ``availableLists(from:memory:indirectNegotiated:budget:)``
    /// does, with the number of ring slots it takes; nil when the slot is not available.
    public static func list(
        at slot: Int, wrapCounter: Bool, ring: QueueAddresses, memory: GuestMemoryMap, indirectNegotiated: Bool?
    ) -> (list: DescriptorChain, slots: Int)? {
        let size = Int(ring.size)
        guard let first = Self.descriptor(at: slot, ring: ring, memory: memory), first.isAvailable(driverWrapCounter: wrapCounter)
        else { return nil }
        var list = DescriptorChain(listAt: UInt16(slot))
        var current = slot
        var wrap = wrapCounter
        var budget = DescriptorChain.maximumDescriptors
        var slots = 0
        while slots < size {
            // The first descriptor as read above, flags first: read again, its fields could
            // be newer than the flags that said it was available.
            guard let descriptor = slots == 0 ? first : Self.descriptor(at: current, ring: ring, memory: memory) else { break }
            if slots > 0, !descriptor.isAvailable(driverWrapCounter: wrap) {
                list.defects.append(.notAvailable(slot: UInt16(current)))
                break
            }
            list.tableIndices.append(UInt16(current))
            list.bufferID = descriptor.bufferID
            slots += 1
            let next = current + 1 == size ? 0 : current + 1
            if next == 0 { wrap.toggle() }
            list.add(
                descriptor, slot: UInt16(current), next: UInt16(next), memory: memory, indirectNegotiated: indirectNegotiated,
                budget: &budget)
            current = next
            guard descriptor.flags.contains(.next) else { return (list, slots) }
        }
        if slots == size { list.defects.append(.tooLong(count: list.elements.count + 1, limit: size)) }
        return (list, max(slots, 1))
    }
}
