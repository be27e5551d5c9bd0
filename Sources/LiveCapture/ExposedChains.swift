import GuestMemory
import VirtioAnalysis
import VirtioModel

/// Watching the chains a split queue's device owns for changes (CLEANUP-NO-TOUCH-EXPOSED):
/// one outstanding chain per scan, in turn, is walked again and compared with the walk made
/// when it was offered. A difference counts only when the used ring, read after the second
/// walk, still does not return the chain: the driver may rewrite descriptors once the device
/// has used them, and a used element written before the change is visible by then (the
/// device publishes used.idx before the driver can see the chain as used).
///
/// Spec: virtio v1.2 §3.3.1 ("the driver MUST NOT alter descriptor table entries which have
/// been exposed in the available ring (and not marked consumed by the device in the used
/// ring) of a live virtqueue").
extension WatchedQueue {
    mutating func checkExposed(memory: GuestMemoryMap, writer: RingRecordWriter, clock: Double = QMPConnection.now()) {
        if self.isPacked { return self.checkExposedList(memory: memory, writer: writer, clock: clock) }
        let size = self.addresses.size
        guard !self.suspended, size > 0, !self.offers.isEmpty else { return }
        self.exposedTurn = (self.exposedTurn &+ 1) % size
        let head = self.exposedTurn
        // Only a head offered once and read in full: a stale or doubled offer has no single walk
        // to compare with, and a touched one is reported once.
        guard let pending = self.offers[head], pending.count == 1, let offered = pending[0].chain, !self.touched.contains(head) else { return }
        let now = DescriptorChain(
            head: head, table: self.addresses.descriptorArea, queueSize: size, memory: memory,
            indirectNegotiated: self.features.contains(.indirectDescriptors))
        guard now.elements != offered.elements || now.tableIndices != offered.tableIndices else { return }
        guard let used = self.index(at: self.addresses.deviceArea &+ 2, memory: memory), Int(used &- self.nextUsed) <= Int(size),
            self.completedSince(memory: memory)[UInt32(head)] == nil
        else { return }
        self.touched.insert(head)
        self.recordTouched(head, slot: nil, offered: offered, now: now, writer: writer)
    }

    /// A `touched` line: the chain (list) named `head` (its Buffer ID, at ring `slot`, on a
    /// packed ring) as offered and as walked now.
    func recordTouched(_ head: UInt16, slot: Int?, offered: DescriptorChain, now: DescriptorChain, writer: RingRecordWriter) {
        let describe: (DescriptorChain) -> String = { chain in
            "[" + chain.elements.map { "[\($0.descriptor.address), \($0.descriptor.length), \($0.descriptor.flags.rawValue)]" }
                .joined(separator: ", ") + "]"
        }
        var line = RecordLine("touched", location: self.location)
        line.field("head", head)
        if let slot { line.field("slot", slot) }
        line.append(", \"offered\": ")
        line.append(describe(offered))
        line.append(", \"now\": ")
        line.append(describe(now))
        writer.write(line)
    }
}

/// Watching the lists a packed queue's device owns for changes (PACKED-DRV-NO-REWRITE): one
/// ring slot per call, in turn; an outstanding list read in full that starts there is walked
/// again (its ring descriptors and indirect table) and compared with its walk when offered.
///
/// The device writes into the ring too — a used descriptor's Buffer ID and length, then its
/// flags — so a difference counts only while every slot of the list still shows the available
/// flags of the lap it was read in, only once it has lasted ``rewriteConfirmation`` (the list is
/// compared again at each check of the queue meanwhile: the device may have been between its
/// two writes, or taken off the processor there), and only when no used descriptor the device
/// has written since returns the list's Buffer ID (it may complete out of order, elsewhere in
/// the ring, and the driver then frees the list's indirect table).
///
/// Spec: virtio v1.2 §2.8.16 (1.1: §2.7.16), "A driver MUST NOT change a descriptor after
/// changing the VIRTQ_DESC_F_AVAIL bit in its flags."
extension WatchedQueue {
    /// How long a list must stay changed to be recorded as touched, in seconds.
    static let rewriteConfirmation = 0.1

    /// `clock`: now, on the recorder's monotonic clock (``QMPConnection/now()``).
    mutating func checkExposedList(memory: GuestMemoryMap, writer: RingRecordWriter, clock: Double) {
        let size = Int(self.addresses.size)
        guard !self.suspended, size > 0, self.packed?.offerAtSlot.isEmpty == false, var cursors = self.packed.take() else { return }
        defer { self.packed = cursors }
        let suspect = cursors.rewriteSuspect
        cursors.rewriteSuspect = nil
        let slot: Int
        if let suspect {
            slot = suspect.slot
        } else {
            self.exposedTurn = UInt16(truncatingIfNeeded: (Int(self.exposedTurn) + 1) % size)
            slot = Int(self.exposedTurn)
        }
        guard let offer = cursors.offerAtSlot[slot], !self.touched.contains(offer.id), let pending = self.offers[offer.id],
            pending.count == 1, let offered = pending[0].chain, offered.head == UInt16(slot),
            cursors.slots[offer.id]?.first?.late == false
        else { return }
        guard
            let (now, _) = PackedQueueSnapshot.list(
                at: slot, wrapCounter: offer.wrap, ring: self.addresses, memory: memory,
                indirectNegotiated: self.features.contains(.indirectDescriptors)),
            !now.defects.contains(where: { if case .notAvailable = $0 { true } else { false } }),
            now.elements != offered.elements || now.tableIndices != offered.tableIndices || now.bufferID != offered.bufferID
        else { return }
        guard let suspect, suspect.slot == slot, suspect.id == offer.id else {
            cursors.rewriteSuspect = (slot, offer.id, clock)
            return
        }
        guard clock - suspect.since >= Self.rewriteConfirmation else {
            cursors.rewriteSuspect = suspect
            return
        }
        guard !Self.returned(offer.id, from: cursors, ring: self.addresses, memory: memory) else { return }
        self.touched.insert(offer.id)
        self.recordTouched(offer.id, slot: slot, offered: offered, now: now, writer: writer)
    }

    /// Whether a used descriptor the device has written past its position as the cursors
    /// last followed it (up to the driver's position) returns Buffer ID `id`.
    static func returned(_ id: UInt16, from cursors: PackedCursors, ring: QueueAddresses, memory: GuestMemoryMap) -> Bool {
        let size = Int(ring.size)
        var (slot, wrap) = (cursors.usedSlot, cursors.usedWrap)
        for _ in 0..<size {
            if slot == cursors.availSlot && wrap == cursors.availWrap { return false }
            if let descriptor = PackedQueueSnapshot.descriptor(at: slot, ring: ring, memory: memory),
                descriptor.isUsed(deviceWrapCounter: wrap), descriptor.bufferID == id
            {
                return true
            }
            Self.advance(&slot, &wrap, by: 1, size: size)
        }
        return false
    }
}

extension WatchedQueue {
    /// SPLIT-CHAINS-DISJOINT over time: the descriptor table entries of a chain just made
    /// available that belong to a chain the device still owns — outstanding, and not returned
    /// by the used ring as read after this chain was (`completed`): a driver reuses a
    /// descriptor only after its chain is used, and that used element is visible by then.
    /// Not judged once used elements were lost (their chains would seem owned for ever).
    ///
    /// Spec: virtio v1.2 §2.7.13.2 (1.1: §2.6.13.2).
    func sharedDescriptors(of chain: DescriptorChain, completed: [UInt32: Int]) -> [ChainDefectFinding] {
        guard !self.usedLost else { return [] }
        for index in chain.tableIndices {
            guard let owner = self.owners[index], completed[UInt32(owner)] == nil,
                let pending = self.offers[owner], pending.count == 1, pending[0].chain != nil
            else { continue }
            let message =
                owner == chain.head && index == chain.head
                ? "head \(owner) is made available again while the device owns its chain"
                : "descriptor \(index) of the chain at head \(chain.head) is in the chain at head \(owner), which the device owns"
            return [.sharedWithOwned(message)]
        }
        return []
    }
}
