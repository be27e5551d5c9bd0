import GuestMemory
import Synchronization
import VirtioAnalysis
import VirtioModel

/// Watching a packed queue (§2.8): the driver's lists are read as their first descriptor
/// becomes available in the driver's lap, the device's used descriptors as they appear at the
/// device's position; each used descriptor completes the oldest offer of its Buffer ID and
/// moves the device's position on by the slots that list took (§2.8.7, §2.8.21.2). With
/// EVENT_IDX each side's position is read between two reads of the other side's event
/// suppression structure (``EventIndexWatch``), as a split ring's index is between two reads
/// of its event index.
extension WatchedQueue {
    mutating func scanPacked(memory: GuestMemoryMap, writer: RingRecordWriter, time: Int64, clock: Double) {
        guard !self.suspended, self.addresses.size > 0, var cursors = self.packed.take() else { return }
        // Taken out and moved back, not copied: a copy of the cursors' tables each scan costs.
        self.scanPacked(&cursors, memory: memory, writer: writer, time: time, clock: clock)
        self.packed = consume cursors
    }

    private mutating func scanPacked(
        _ cursors: inout PackedCursors, memory: GuestMemoryMap, writer: RingRecordWriter, time: Int64, clock: Double
    ) {
        let size = Int(self.addresses.size)
        if cursors.missedBeforeStart > 0 {
            self.missed += cursors.missedBeforeStart
            var line = RecordLine("missed", location: self.location)
            line.field("used", cursors.missedBeforeStart)
            line.field("beforeAttach", true)
            writer.write(line)
            cursors.missedBeforeStart = 0
        }
        // The event suppression structures, read before both sides' positions.
        let (driverWord, deviceWord, defects) = Self.checkEventSuppression(
            &cursors, addresses: self.addresses, features: self.features, memory: memory)
        if !defects.isEmpty {
            var line = RecordLine("defect", location: self.location)
            line.defects(defects)
            writer.write(line)
        }
        let watchesEvents = self.features.contains(.eventIndex)
        let usedEventBefore = watchesEvents ? Self.eventPosition(driverWord, size: self.addresses.size) : nil
        // Completions first: a used descriptor overwrites the first slot of a list, which must
        // not then be taken for a new offer.
        var steps = 0
        var (taken, limited) = (0, false)
        if cursors.mergedSlot != nil { self.recordMergedCompletion(&cursors, memory: memory, writer: writer) }
        // The flags alone first: most scans find nothing new, and that is all they read.
        while steps < size,
            let flags = PackedQueueSnapshot.flags(at: cursors.usedSlot, ring: self.addresses, memory: memory),
            flags.isUsed(deviceWrapCounter: cursors.usedWrap) || flags.isAvailable(driverWrapCounter: !cursors.usedWrap),
            let descriptor = PackedQueueSnapshot.descriptor(at: cursors.usedSlot, ring: self.addresses, memory: memory)
        {
            if taken == Self.entriesPerScan {
                limited = true
                break
            }
            // The device wrote the slot passed over first, if it was a list of its own: looked
            // at again now this later one is seen (read after it), then no longer.
            if cursors.mergedSlot != nil {
                self.recordMergedCompletion(&cursors, memory: memory, writer: writer)
                cursors.mergedSlot = nil
            }
            if !descriptor.isUsed(deviceWrapCounter: cursors.usedWrap) {
                guard self.passLappedSlot(descriptor, &cursors, writer: writer, size: size) else { break }
                steps += 1
                taken += 1
                continue
            }
            cursors.offerAtSlot[cursors.usedSlot] = nil
            let id = descriptor.bufferID
            if cursors.rewriteSuspect?.id == id { cursors.rewriteSuspect = nil }
            var chain: DescriptorChain?
            var slots = 1
            var late = false
            if var pending = cursors.slots[id], !pending.isEmpty, var offered = self.offers[id], !offered.isEmpty {
                (slots, late) = pending.removeFirst()
                chain = offered.removeFirst().chain
                self.offerCount -= 1
                cursors.slots[id] = pending.isEmpty ? nil : pending
                self.offers[id] = offered.isEmpty ? nil : offered
                self.touched.remove(id)
            } else {
                // Offered and used before it could be read; counted as missed. How many slots
                // it took is lost with its first descriptor; one is assumed for the device's
                // position (Linux puts a request of several buffers in one slot, with an
                // indirect table).
                self.recordListMissed(writer: writer)
                if cursors.availSlot == cursors.usedSlot && cursors.availWrap == cursors.usedWrap {
                    // In order: the list began here, under the used descriptor. Its further
                    // slots, still available and carrying its Buffer ID (Linux writes the ID in
                    // each), are passed over with it, by both cursors (the device moves on by
                    // the slots a list took). An INDIRECT descriptor is a list of its own
                    // (§2.8.19: never linked by NEXT): the next list, which the driver may have
                    // given the Buffer ID just freed (Linux does), and it is read.
                    Self.advance(&cursors.availSlot, &cursors.availWrap, by: 1, size: size)
                    let following = (slot: cursors.availSlot, wrap: cursors.availWrap)
                    while slots < size,
                        let next = PackedQueueSnapshot.descriptor(at: cursors.availSlot, ring: self.addresses, memory: memory),
                        next.isAvailable(driverWrapCounter: cursors.availWrap), next.bufferID == id,
                        !next.flags.contains(.indirect)
                    {
                        Self.advance(&cursors.availSlot, &cursors.availWrap, by: 1, size: size)
                        slots += 1
                    }
                    // One slot passed over may as well be the next list, given the Buffer ID
                    // just freed (Linux does): the device's next used descriptor will tell.
                    if slots == 2 { cursors.mergedSlot = following }
                } else {
                    // Out of order: the list is still ahead of the driver's cursor, whole; when
                    // it is read it is taken as completed already, not as outstanding.
                    cursors.completedUnread[id, default: 0] += 1
                }
            }
            var line = self.usedLine(descriptor)
            // QEMU sets no WRITE in its used descriptors, and Linux reads the length all the
            // same: a received frame is read whatever the flag (PACKED-USED-WRITE-FLAG says so).
            if chain == nil || late { line.field("unread", true) }
            if !late, let chain, let data = self.receivedBytes(chain, length: descriptor.length, memory: memory) {
                // The frame copied before the ring is read again (the reader's half of a seqlock).
                atomicMemoryFence(ordering: .acquiring)
                let since = Self.ringSince(cursors, ring: self.addresses, features: self.features, memory: memory)
                self.recordReceived(data, of: chain, since: since, in: &line)
            }
            if !late { self.recordBlockStatus(chain, memory: memory, in: &line) }
            writer.write(line)
            self.usedSeen += 1
            Self.advance(&cursors.usedSlot, &cursors.usedWrap, by: slots, size: size)
            steps += slots
            taken += 1
        }
        // A side's position is compared with the other side's event index only once every
        // entry there was read: a cursor left behind is no position the other side waited at.
        if watchesEvents, !limited {
            let position = Self.position(cursors.usedSlot, cursors.usedWrap)
            self.followEventIndex(.used, before: usedEventBefore, ring: position, memory: memory, time: time, writer: writer)
        }
        let availEventBefore = watchesEvents ? Self.eventPosition(deviceWord, size: self.addresses.size) : nil
        if let partial = cursors.partialList, partial.slot != cursors.availSlot || partial.wrap != cursors.availWrap {
            // The device used it (the completion moved the driver's cursor past it) before the rest was seen.
            self.recordPublishedEarly(partial, then: "the device used it before the rest was", writer: writer)
            cursors.partialList = nil
        }
        steps = 0
        (taken, limited) = (0, false)
        while steps < size,
            PackedQueueSnapshot.flags(at: cursors.availSlot, ring: self.addresses, memory: memory)?
                .isAvailable(driverWrapCounter: cursors.availWrap) == true,
            let (list, slots) = PackedQueueSnapshot.list(
                at: cursors.availSlot, wrapCounter: cursors.availWrap, ring: self.addresses, memory: memory,
                indirectNegotiated: self.features.contains(.indirectDescriptors))
        {
            if taken == Self.entriesPerScan {
                limited = true
                break
            }
            // A list whose first descriptor is available before the rest (§2.8.17): read again
            // until the rest appears (then recorded whole, with PACKED-LIST-PUBLISH), the device
            // uses it, or a second passes (then recorded as it is: PACKED-AVAIL-ENCODING).
            // A later slot that holds a used descriptor of its lap was written by the device,
            // which had read the list (out of order, at its own position): read late.
            var publishedEarly: [ChainDefectFinding] = []
            var overwritten = false
            if let missing = Self.firstUnavailableSlot(of: list) {
                let wrap = Int(missing) < cursors.availSlot ? !cursors.availWrap : cursors.availWrap
                overwritten =
                    PackedQueueSnapshot.descriptor(at: Int(missing), ring: self.addresses, memory: memory)?
                    .isUsed(deviceWrapCounter: wrap) == true
                if !overwritten {
                    if cursors.partialList.map({ $0.slot != cursors.availSlot || $0.wrap != cursors.availWrap }) ?? true {
                        cursors.partialList = PackedCursors.PartialList(slot: cursors.availSlot, wrap: cursors.availWrap, missing: missing, since: clock)
                    }
                    if let partial = cursors.partialList, clock - partial.since < Self.partialListWait { break }
                }
                cursors.partialList = nil
            } else if let partial = cursors.partialList {
                publishedEarly = [.publishedEarly(slot: partial.slot, missing: partial.missing, then: "the rest followed")]
                cursors.partialList = nil
            }
            let id = list.bufferID ?? 0
            let defects = publishedEarly + list.defectFindings(packed: true) + self.requestDefects(of: list, memory: memory)
            var line = RecordLine("avail", location: self.location)
            line.field("index", self.availSeen)
            line.field("head", id)
            line.field("slot", cursors.availSlot)
            line.chainFields(list, defects: defects)
            // A transmitted frame is copied at once; then the list's first slot is read again.
            // Used by then, its indirect table or buffers may have been freed and reused while
            // it was read (Linux frees a request's table on completion): neither its defects nor
            // its bytes are taken.
            let data = self.transmittedBytes(list, memory: memory)
            // The list and its bytes read before its first slot is looked at again (the reader's half of a seqlock).
            atomicMemoryFence(ordering: .acquiring)
            let late =
                overwritten
                || PackedQueueSnapshot.descriptor(at: cursors.availSlot, ring: self.addresses, memory: memory)?
                    .isAvailable(driverWrapCounter: cursors.availWrap) != true
            // Its completion was met before the list itself (out of order): read, not outstanding.
            let pending = cursors.completedUnread[id, default: 0]
            let completed = pending > 0
            if completed {
                cursors.completedUnread[id] = pending > 1 ? pending - 1 : nil
                line.field("completed", true)
            }
            if late || completed {
                line.field("late", true)
                self.late += 1
            }
            // The device's position moved on by one slot for that used descriptor; the list took more.
            if completed, slots > 1 { Self.advance(&cursors.usedSlot, &cursors.usedWrap, by: slots - 1, size: size) }
            if !late, let data { line.field("data", hex: data) }
            writer.write(line)
            // At most two rings' worth outstanding (completions lost otherwise): forgotten.
            if self.offerCount >= 2 * size {
                self.offers = [:]
                self.touched = []
                cursors.slots = [:]
                cursors.completedUnread = [:]
                cursors.offerAtSlot = [:]
                cursors.rewriteSuspect = nil
                self.offerCount = 0
            }
            if !completed {
                self.offers[id, default: []].append(Offer(chain: list))
                self.offerCount += 1
                cursors.slots[id, default: []].append((slots, late))
                cursors.offerAtSlot[cursors.availSlot] = (id, cursors.availWrap)
            }
            self.availSeen += 1
            Self.advance(&cursors.availSlot, &cursors.availWrap, by: slots, size: size)
            steps += slots
            taken += 1
        }
        if let partial = cursors.partialList,
            PackedQueueSnapshot.descriptor(at: partial.slot, ring: self.addresses, memory: memory)?
                .isAvailable(driverWrapCounter: partial.wrap) != true
        {
            // Its first slot is no longer available in the lap, and the rest never was.
            self.recordPublishedEarly(partial, then: "its first slot stopped being available before the rest was", writer: writer)
            cursors.partialList = nil
        }
        if watchesEvents, !limited {
            let position = Self.position(cursors.availSlot, cursors.availWrap)
            self.followEventIndex(.available, before: availEventBefore, ring: position, memory: memory, time: time, writer: writer)
        }
    }

    /// How long a list whose first descriptor is available before the rest of it is waited for
    /// (``PackedCursors/partialList``), in seconds.
    static let partialListWait = 1.0

    /// The first slot of `list` not marked available in its lap, if the walk met one.
    static func firstUnavailableSlot(of list: DescriptorChain) -> UInt16? {
        for defect in list.defects { if case .notAvailable(let slot) = defect { return slot } }
        return nil
    }

    /// A `defect` line for a list seen published first descriptor first, recorded without it.
    func recordPublishedEarly(_ partial: PackedCursors.PartialList, then: String, writer: RingRecordWriter) {
        let defect = ChainDefectFinding.publishedEarly(slot: partial.slot, missing: partial.missing, then: then)
        var line = RecordLine("defect", location: self.location)
        line.defects([defect])
        writer.write(line)
    }

    /// A ring position as an event suppression structure names it: the slot, and the wrap
    /// counter in bit 15 (§2.8.14).
    static func position(_ slot: Int, _ wrap: Bool) -> UInt16 { UInt16(truncatingIfNeeded: slot) | (wrap ? 0x8000 : 0) }

    /// A used descriptor the sampler did not see: the slot at the device's position held a list
    /// read in this lap, and now holds one the driver made available in its next lap. The
    /// driver reuses a slot only once the device has used it (§2.8.21), so the device used that
    /// list and the driver read its used descriptor, both between two scans. The completion is
    /// counted as missed, the list (taken as completed in order, the device's way here) stops
    /// being outstanding, and the device's position moves on by the slots it took. Returns
    /// false when the slot shows nothing of the kind (the device has simply not used it yet).
    private mutating func passLappedSlot(
        _ descriptor: PackedDescriptor, _ cursors: inout PackedCursors, writer: RingRecordWriter, size: Int
    ) -> Bool {
        guard let offer = cursors.offerAtSlot[cursors.usedSlot], offer.wrap == cursors.usedWrap,
            descriptor.isAvailable(driverWrapCounter: !cursors.usedWrap)
        else { return false }
        let id = offer.id
        cursors.offerAtSlot[cursors.usedSlot] = nil
        if cursors.rewriteSuspect?.id == id { cursors.rewriteSuspect = nil }
        var slots = 1
        if var pending = cursors.slots[id], !pending.isEmpty, var offered = self.offers[id], !offered.isEmpty {
            slots = pending.removeFirst().count
            offered.removeFirst()
            self.offerCount -= 1
            cursors.slots[id] = pending.isEmpty ? nil : pending
            self.offers[id] = offered.isEmpty ? nil : offered
            self.touched.remove(id)
        }
        self.missed += 1
        var line = RecordLine("missed", location: self.location)
        line.field("used", 1)
        writer.write(line)
        Self.advance(&cursors.usedSlot, &cursors.usedWrap, by: slots, size: size)
        return true
    }

    /// The device's wrap counter at `slot`, its next used position, from the flags there and in
    /// the slot before (§2.8.1), read while the device writes no used descriptor (``Session``
    /// checks QMP's `used-idx` around the read). The slot before was last written in the
    /// device's lap (for slot 0: the lap before) — a used descriptor (AVAIL = USED = that
    /// lap's counter) or a later descriptor of a list (AVAIL = the counter) — unless the
    /// driver, a lap ahead, has made it available again; the slot itself then holds a list of
    /// the device's lap, and a used-looking slot is the previous lap's. Between a driver a lap
    /// ahead and a drained ring whose last list took several slots the flags cannot choose: the
    /// driver a lap ahead is taken (receive queues are kept full; Linux puts several buffers
    /// in one slot, with an indirect table).
    static func deviceWrapCounter(at slot: Int, flags: PackedDescriptorFlags, previousFlags: PackedDescriptorFlags) -> Bool {
        let avail = previousFlags.contains(.avail)
        let settled = previousFlags.contains(.used) == avail || flags.contains(.used) == flags.contains(.avail)
        if slot > 0 { return settled || flags.contains(.avail) == avail ? avail : !avail }
        return settled || flags.contains(.avail) != avail ? !avail : avail
    }

    /// The slot passed over with a list missed in order (``PackedCursors/mergedSlot``), when
    /// the device has written a used descriptor there: it was a list of its own, made available
    /// and used unread. Its completion is recorded as such a list's is, counted as missed.
    private mutating func recordMergedCompletion(_ cursors: inout PackedCursors, memory: GuestMemoryMap, writer: RingRecordWriter) {
        guard let merged = cursors.mergedSlot,
            PackedQueueSnapshot.flags(at: merged.slot, ring: self.addresses, memory: memory)?.isUsed(deviceWrapCounter: merged.wrap) == true,
            let descriptor = PackedQueueSnapshot.descriptor(at: merged.slot, ring: self.addresses, memory: memory),
            descriptor.isUsed(deviceWrapCounter: merged.wrap)
        else { return }
        cursors.mergedSlot = nil
        self.recordListMissed(writer: writer)
        var line = self.usedLine(descriptor)
        line.field("unread", true)
        writer.write(line)
        self.usedSeen += 1
    }

    /// A list made available and used before a scan could read it: counted, and a `missed` line.
    private mutating func recordListMissed(writer: RingRecordWriter) {
        self.missed += 1
        var line = RecordLine("missed", location: self.location)
        line.field("avail", 1)
        writer.write(line)
    }

    /// The start of a `used` line for a used descriptor (unclosed: fields may follow). Its
    /// WRITE flag is said: without it the length is reserved (§2.8.4).
    private func usedLine(_ descriptor: PackedDescriptor) -> RecordLine {
        var line = RecordLine("used", location: self.location)
        line.field("index", self.usedSeen)
        line.field("id", descriptor.bufferID)
        line.field("len", descriptor.length)
        line.field("write", descriptor.flags.contains(.write))
        return line
    }

    /// The ring read again while a used descriptor is recorded: the lists available from the
    /// driver's cursor on (within a ring's worth of slots), and whether the device has used
    /// the list at that cursor, which the recorder never read — looked at after the lists, so
    /// that a list the device uses between the two reads is seen by one. Nil past
    /// ``WatchedQueue/newerChainsRead`` lists.
    static func ringSince(_ cursors: PackedCursors, ring: QueueAddresses, features: FeatureBits, memory: GuestMemoryMap) -> RingsSince? {
        let size = Int(ring.size)
        var (slot, wrap, steps) = (cursors.availSlot, cursors.availWrap, 0)
        var lists: [DescriptorChain] = []
        while steps < size,
            let (list, slots) = PackedQueueSnapshot.list(
                at: slot, wrapCounter: wrap, ring: ring, memory: memory, indirectNegotiated: features.contains(.indirectDescriptors))
        {
            guard lists.count < Self.newerChainsRead else { return nil }
            lists.append(list)
            Self.advance(&slot, &wrap, by: slots, size: size)
            steps += slots
        }
        let usedUnread =
            PackedQueueSnapshot.flags(at: cursors.availSlot, ring: ring, memory: memory)?.isUsed(deviceWrapCounter: cursors.availWrap) == true
        return RingsSince(newer: lists, usedUnread: usedUnread)
    }

    /// Moves a ring position on by `count` slots, flipping its wrap counter past the end.
    static func advance(_ slot: inout Int, _ wrap: inout Bool, by count: Int, size: Int) {
        slot += count
        while slot >= size {
            slot -= size
            wrap.toggle()
        }
    }
}

extension WatchedQueue {
    /// The event suppression structures (§2.8.14), each judged when it changed since the last
    /// scan (PACKED-EVENT-FLAGS): what they hold when it is not a defined mode. Returns the words
    /// read (each nil where it is not in RAM). Static, like the scan's other helpers
    /// (``packedEventPosition(_:addresses:memory:)``).
    static func checkEventSuppression(
        _ cursors: inout PackedCursors, addresses: QueueAddresses, features: FeatureBits, memory: GuestMemoryMap
    ) -> (driver: UInt32?, device: UInt32?, defects: [ChainDefectFinding]) {
        let read = (driver: memory.value(UInt32.self, at: addresses.driverArea), device: memory.value(UInt32.self, at: addresses.deviceArea))
        guard let driver = read.driver, let device = read.device else { return (read.driver, read.device, []) }
        let last = cursors.eventWords
        cursors.eventWords = (driver, device)
        // Unchanged (most scans): nothing to judge.
        if last?.driver == driver, last?.device == device { return (driver, device, []) }
        func structure(_ word: UInt32) -> EventSuppression {
            EventSuppression(offWrap: UInt16(truncatingIfNeeded: word), flags: UInt16(truncatingIfNeeded: word >> 16))
        }
        let defects = ChainDefectFinding.eventSuppression(
            driver: last?.driver == driver ? nil : structure(driver), device: last?.device == device ? nil : structure(device),
            eventIndex: features.contains(.eventIndex))
        return (driver, device, defects)
    }
}
