import GuestMemory

/// The words of guest RAM a scan of a queue reads first, as they were when a scan began that
/// recorded nothing and left nothing pending (``WatchedQueue/isSettled(reading:)``): a split
/// ring's `used.idx` and `avail.idx` (§2.7.6, §2.7.8), its two `flags` words (§2.7.7, §2.7.10)
/// and, with VIRTIO_F_EVENT_IDX, its `used_event` and `avail_event`; a packed ring's two event
/// suppression structures (§2.8.10) and the flags of the slots at its two cursors (§2.8.1).
/// Everything else a scan reads it reads only when one of these has moved, so while they hold
/// what they held another scan would read the same and record nothing: the sampler compares
/// these words and no more (``WatchedQueue/scan``).
///
/// A scan of every queue then costs little more than the busy ones: virtio-serial alone has
/// 64 queues, mostly never used, and reading them all through ``GuestMemoryMap`` took the
/// sampler about 10 µs a round — as long as QEMU takes to use a packed net control command,
/// which then went unseen. The words are read where they lie in the mapping, which this keeps.
struct QuietWords {
    private let file: MappedFile
    private let words: ContiguousArray<(address: UnsafeRawPointer, value: UInt16)>

    /// The words at guest-physical `addresses`, read now; nil when one is not in RAM.
    init?(_ addresses: some Sequence<UInt64>, memory: GuestMemoryMap) {
        var words = ContiguousArray<(address: UnsafeRawPointer, value: UInt16)>()
        for address in addresses {
            guard let bytes = try? memory.bytes(at: address, length: 2), let base = bytes.baseAddress else { return nil }
            words.append((base, base.loadUnaligned(as: UInt16.self)))
        }
        self.file = memory.file
        self.words = words
    }

    /// Whether every word still holds what it held.
    var hold: Bool {
        self.words.allSatisfy { $0.address.loadUnaligned(as: UInt16.self) == $0.value }
    }

    /// What the word `index` of ``WatchedQueue/firstReads`` held (little-endian, §1.4).
    subscript(index: Int) -> UInt16 { UInt16(littleEndian: self.words[index].value) }
}

extension WatchedQueue {
    /// Where the words are that a scan reads first (``QuietWords``): a split ring's `used.idx`
    /// and `avail.idx` first, its two `flags` last.
    var firstReads: [UInt64] {
        let (driver, device) = (self.addresses.driverArea, self.addresses.deviceArea)
        if let cursors = self.packed {
            let flags = { (slot: Int) in self.addresses.descriptorArea &+ UInt64(slot) &* 16 &+ 14 }
            return [driver, driver &+ 2, device, device &+ 2, flags(cursors.usedSlot), flags(cursors.availSlot)]
        }
        return [device &+ 2, driver &+ 2] + (self.watchesEventIndices ? [self.usedEventAddress, self.availEventAddress] : [])
            + [driver, device]
    }

    /// Nothing a scan left for the next to finish: a split ring read up to both indices it
    /// found (in `words`); on a packed ring no completions from before it was found still to
    /// count, no slot passed over still to look at, no list waited for.
    func isSettled(reading words: QuietWords) -> Bool {
        if let cursors = self.packed {
            return cursors.missedBeforeStart == 0 && cursors.mergedSlot == nil && cursors.partialList == nil
        }
        return self.suspended || (words[0] == self.nextUsed && words[1] == self.nextAvail)
    }
}
