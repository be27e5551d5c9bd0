import GuestMemory
import VirtioModel

/// A net receive buffer the driver offers to the device again before the recorder has copied
/// the frame the device wrote into it: the device may have written the next frame over it.
/// U-Boot hands its one buffer back the moment it has read the packet; Linux may recycle a
/// freed page into a new buffer. The bytes are copied first, then the rings read again (the
/// reader's half of a seqlock): if the buffer's memory is by then in a chain the device may
/// write — an outstanding offer, or one made available since the rings were read — the copy
/// is kept but marked (`refilled` on its used line, with when it was complete) and counted as
/// missed: `analyze` and `pcap` take it only where the trace shows the device took no buffer
/// meanwhile (``RefilledCopies``).
extension WatchedQueue {
    /// The most descriptors compared for one buffer; past that it is taken as offered again
    /// (a hostile ring costs a frame, not time).
    static let refillComparisons = 4096
    /// The most chains made available since the rings were read that are walked to tell; more
    /// and the buffer is taken as offered again (a driver adds a few between two reads).
    static let newerChainsRead = 64

    /// The rings read again after a frame was copied: the chains made available since the
    /// recorder last read them, and whether the device has used a chain whose descriptors the
    /// recorder never read (which may have named the same buffer).
    struct RingsSince {
        var newer: [DescriptorChain]
        var usedUnread: Bool
    }

    /// `data`, the bytes copied from `chain` (just used, its offer already taken off `offers`),
    /// as its used line's field; with `refilled` and `copied` (now, after the copy and the
    /// rings read again), counted as missed, when its memory may have been offered to the
    /// device again meanwhile: it is in one of `offers` or of `since.newer`, the device used a
    /// chain not read, or `since` is not known.
    ///
    /// A copy whose only bytes in such a chain are its virtio-net header is kept unmarked, with
    /// `headerShared`: iPXE gives all its receive buffers one header buffer, so every frame's
    /// header is in the other offers while the frame itself is not. Its frame bytes are the
    /// device's for this frame; its header may be a later frame's. With MRG_RXBUF, whose header
    /// says how many buffers the frame takes, such a copy is marked as any other.
    mutating func recordReceived(_ data: [UInt8], of chain: DescriptorChain, since: RingsSince?, in line: inout RecordLine) {
        line.field("data", hex: data)
        if let since, !since.usedUnread {
            switch self.offeredAgain(chain, copied: data.count, newer: since.newer) {
            case .none:
                return
            case .header where !self.features.contains(.netMergeableRxBuffers):
                line.field("headerShared", true)
                return
            case .header, .frame:
                break
            }
        }
        self.missed += 1
        line.field("refilled", true)
        line.field("copied", RingRecordWriter.now())
    }

    /// Which of the copied bytes are in a buffer the device may write again.
    enum OfferedAgain { case none, header, frame }

    /// Whether the first `count` bytes of `chain`'s device-writable buffers (those copied) are
    /// in a device-writable buffer of one of `offers` or `newer`: none of them, only virtio-net
    /// header bytes, or frame bytes too (or a buffer past the end of the address space).
    private func offeredAgain(_ chain: DescriptorChain, copied count: Int, newer: [DescriptorChain]) -> OfferedAgain {
        let header = NetHeader.size(features: self.features)
        var position = 0
        var found = OfferedAgain.none
        for element in chain.elements where element.descriptor.flags.contains(.write) && element.descriptor.length > 0 {
            guard position < count else { break }
            let length = min(Int(element.descriptor.length), count - position)
            let start = element.descriptor.address
            let (end, overflow) = start.addingReportingOverflow(UInt64(length))
            guard !overflow else { return .frame }
            if self.offered(start..<end, newer: newer) {
                guard position + length <= header else { return .frame }
                found = .header
            }
            position += length
        }
        return found
    }

    /// Whether a device-writable buffer of one of `offers` or `newer` overlaps `span`.
    private func offered(_ span: Range<UInt64>, newer: [DescriptorChain]) -> Bool {
        var budget = Self.refillComparisons
        for chain in self.offers.values.lazy.flatMap({ $0 }).compactMap(\.chain) + newer {
            for element in chain.elements where element.descriptor.flags.contains(.write) && element.descriptor.length > 0 {
                budget -= 1
                guard budget >= 0 else { return true }
                let start = element.descriptor.address
                let (end, overflow) = start.addingReportingOverflow(UInt64(element.descriptor.length))
                if start < span.upperBound, overflow || end > span.lowerBound { return true }
            }
        }
        return false
    }

    /// A split ring read again while the used element at `nextUsed` is recorded: the chains
    /// made available past `nextAvail`, walked now, and whether a used element after this one
    /// completes a stale offer (its chain never read). Nil when the used ring moved on by more
    /// than its size (not told apart from one overwritten), or more than
    /// ``newerChainsRead`` chains were made available.
    func splitRingsSince(memory: GuestMemoryMap) -> RingsSince? {
        let size = self.addresses.size
        guard let used = self.index(at: self.addresses.deviceArea &+ 2, memory: memory), Int(used &- self.nextUsed) <= Int(size),
            let avail = self.index(at: self.addresses.driverArea &+ 2, memory: memory),
            Int(avail &- self.nextAvail) <= min(Int(size), Self.newerChainsRead)
        else { return nil }
        var usedUnread = false
        for step in stride(from: 1, to: Int(used &- self.nextUsed), by: 1) {
            let slot = (self.nextUsed &+ UInt16(step)).quotientAndRemainder(dividingBy: size).remainder
            guard let id = memory.value(UInt32.self, at: self.addresses.deviceArea &+ 4 &+ UInt64(slot) * 8) else { return nil }
            if id < UInt32(size), self.offers[UInt16(id)]?.contains(where: { $0.chain == nil }) == true { usedUnread = true }
        }
        var newer: [DescriptorChain] = []
        var index = self.nextAvail
        while index != avail {
            let slot = index.quotientAndRemainder(dividingBy: size).remainder
            guard let head = memory.value(UInt16.self, at: self.addresses.driverArea &+ 4 &+ UInt64(slot) * 2) else { return nil }
            newer.append(
                DescriptorChain(
                    head: head, table: self.addresses.descriptorArea, queueSize: size, memory: memory,
                    indirectNegotiated: self.features.contains(.indirectDescriptors)))
            index &+= 1
        }
        return RingsSince(newer: newer, usedUnread: usedUnread)
    }
}
