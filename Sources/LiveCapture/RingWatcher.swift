import GuestMemory
import Synchronization
import VirtioAnalysis
import VirtioReporting
import VirtioModel

/// One split virtqueue watched in shared guest RAM: each new available entry is decoded as
/// soon as it is seen (the driver may free an indirect table right after completion), and
/// each new used element recorded, with the frame bytes of net queues.
///
/// Spec: virtio v1.2 §2.7.6 (available ring), §2.7.8 (used ring). Both indices start at 0
/// when the queue is set up, and the watcher starts there too: buffers posted before it
/// attached are still in the ring.
struct WatchedQueue {
    let device: String
    let type: DeviceType?
    let index: Int
    var addresses: QueueAddresses
    let features: FeatureBits
    let role: QueueRole
    /// The queue's `device` and `queue` fields, as every line about it has them (made once:
    /// the sampler writes them for each entry).
    let location: String
    /// A block device's capacity in 512-byte sectors (QMP `query-block`), for BLK-CAPACITY.
    var blockCapacity: UInt64?
    /// A network device's `mtu` (QMP `qom-get` of `host_mtu`), for NET-TX-MTU.
    var netMTU: UInt16?
    /// Where the queue's addresses came from.
    var source = Source.qmp
    enum Source: String {
        /// The driver's common configuration writes in the trace, when it enabled the queue (``TracedDevice``).
        case trace
        /// QMP's `x-query-virtio-queue-status`, after the device reached DRIVER_OK.
        case qmp
    }
    var nextAvail: UInt16 = 0
    var nextUsed: UInt16 = 0
    /// The offers of each head not yet matched by a used element, oldest first.
    var offers: [UInt16: [Offer]] = [:]
    struct Offer {
        /// The chain as read when it was made available, or nil for a stale offer.
        var chain: DescriptorChain?
        /// Read after its completion (split rings; packed cursors keep their own): what the
        /// device wrote is not judged against it.
        var late = false
    }
    /// How many offers `offers` holds: at most two rings' worth (``keep(_:as:)``).
    var offerCount = 0
    /// The head (packed: the ring slot) whose outstanding chain is compared next
    /// (``checkExposed(memory:writer:)``), and the heads (Buffer IDs) found changed while the
    /// device owned them (reported once per offer).
    var exposedTurn: UInt16 = 0
    var touched: Set<UInt16> = []
    /// The head of the outstanding chain each descriptor table entry belongs to
    /// (SPLIT-CHAINS-DISJOINT over time); not kept once used elements were lost.
    var owners: [UInt16: UInt16] = [:]
    var usedLost = false
    /// More chains were exposed than the ring has entries, last time it was looked at.
    var overExposed = false
    /// The rings stopped making sense (an index jumped more than a ring, a head or id out of
    /// range): the driver has most likely reset the device and reused the memory. Nothing more
    /// is read until QMP says what became of the device.
    var suspended = false
    var availSeen = 0
    var usedSeen = 0
    /// Entries overwritten before the watcher read them (it fell more than a ring behind), and
    /// chains whose head was offered again before the watcher read the first offer (their
    /// descriptors may describe the later request): recorded as stale, without data.
    var missed = 0
    /// Chains (lists) read only once the device had used them, or while it did: recorded
    /// (`late`), but not judged, and without their bytes — their memory may have been reused.
    var late = 0
    /// With EVENT_IDX: the device's `avail_event` and the driver's `used_event` as the scans
    /// read them (SPLIT-DRV-MUST-NOTIFY, SPLIT-DEV-MUST-NOTIFY), or on a packed ring the
    /// positions its event suppression structures name (PACKED-DRV-NOTIFY-BARRIER, PACKED-DEV-NOTIFY).
    var availEvent = EventIndexWatch()
    var usedEvent = EventIndexWatch()
    /// The words the last scan read first, while it left nothing to look at again (``QuietWords``).
    var quiet: QuietWords?
    /// A split ring's available and used `flags` were found holding a value not allowed
    /// (``checkRingFlags(memory:writer:)``): each said once a watch.
    var ringFlagsReported = (avail: false, used: false)

    /// A packed queue (§2.8): its cursors, for the driver's offers and the device's used
    /// descriptors, each a ring slot and a wrap counter (both start at 1, §2.8.1). A scan takes
    /// them out while it works (no copy of their tables), so whether the queue is packed is
    /// ``isPacked``.
    var packed: PackedCursors?
    /// VIRTIO_F_RING_PACKED negotiated: the queue has ``packed`` cursors.
    var isPacked: Bool { self.features.contains(.ringPacked) }

    struct PackedCursors {
        /// Used descriptors the device wrote before the queue was found (at least its slot:
        /// whole laps cannot be known), recorded as missed on the first scan.
        var missedBeforeStart: Int
        var availSlot: Int
        var availWrap: Bool
        var usedSlot: Int
        var usedWrap: Bool
        /// The ring slots each offered list takes, and whether it was read late (used while
        /// walked), by Buffer ID, oldest first.
        var slots: [UInt16: [(count: Int, late: Bool)]] = [:]
        /// Buffer IDs whose used descriptor came before their list was read (the device
        /// completed out of order): the list, met later, is not outstanding.
        var completedUnread: [UInt16: Int] = [:]
        /// The Buffer ID of the outstanding list that starts at each slot, and the wrap counter
        /// of the driver's lap it was read in: for a completion the sampler missed
        /// (``WatchedQueue/passLappedSlot``), and for the list's walk again
        /// (``WatchedQueue/checkExposedList(memory:writer:clock:)``).
        var offerAtSlot: [Int: (id: UInt16, wrap: Bool)] = [:]
        /// The slot (and the driver's lap) after a list missed in order that was passed over
        /// with it, for carrying the list's Buffer ID: a list of its own after all if the
        /// device writes a used descriptor there (``WatchedQueue/recordMergedCompletion``);
        /// forgotten once the device's next used descriptor is seen past it.
        var mergedSlot: (slot: Int, wrap: Bool)?
        /// The driver and device event suppression structures as last read (judged when they change).
        var eventWords: (driver: UInt32, device: UInt32)?
        /// A list whose first descriptor was seen available before the rest of it
        /// (PACKED-LIST-PUBLISH): its slot and lap, the first of its slots not available, and
        /// since when (the recorder's monotonic clock, ``QMPConnection/now()``).
        var partialList: PartialList?
        struct PartialList {
            var slot: Int
            var wrap: Bool
            var missing: UInt16
            var since: Double
        }
        /// The outstanding list last found changed (its first slot and Buffer ID), and since
        /// when (monotonic): compared again at each check of the queue until the change has
        /// lasted ``WatchedQueue/rewriteConfirmation`` (``WatchedQueue/checkExposedList(memory:writer:clock:)``).
        var rewriteSuspect: (slot: Int, id: UInt16, since: Double)?

        init(start: PackedStart) {
            (self.availSlot, self.availWrap, self.usedSlot, self.usedWrap) = (start.slot, start.wrap, start.slot, start.wrap)
            self.missedBeforeStart = start.slot
        }
    }

    /// A packed ring's device position when it is found: its next used slot and wrap counter.
    struct PackedStart {
        var slot: Int
        var wrap: Bool
    }

    /// Frames are at most 64 KiB plus a 20-byte header; nothing longer is copied.
    static let maximumData = 65_535 + 20

    /// `packedStart`: where a packed ring's device will write its next used descriptor, and
    /// its wrap counter there (``Session`` finds them); a split ring is read from index 0.
    init(
        device: String, type: DeviceType?, index: Int, addresses: QueueAddresses, features: FeatureBits, netControlQueue: Int?,
        packedStart: PackedStart = PackedStart(slot: 0, wrap: true)
    ) {
        self.device = device
        self.type = type
        self.index = index
        self.addresses = addresses
        self.features = features
        self.role = QueueRole.of(index: index, type: type, netControlQueue: netControlQueue)
        self.location = "\"device\": \(JSONWriter.quoted(device)), \"queue\": \(index)"
        if features.contains(.ringPacked) { self.packed = PackedCursors(start: packedStart) }
    }

    func index(at address: UInt64, memory: GuestMemoryMap) -> UInt16? { memory.value(UInt16.self, at: address) }

    /// The `queue` line that starts the queue's record.
    var queueLine: String {
        "{\"kind\": \"queue\", \"t\": \(RingRecordWriter.now()), \"device\": \(JSONWriter.quoted(self.device)), "
            + "\"type\": \(self.type.map { JSONWriter.quoted($0.shortName) } ?? "null"), \"queue\": \(self.index), "
            + "\"desc\": \(self.addresses.descriptorArea), \"avail\": \(self.addresses.driverArea), "
            + "\"used\": \(self.addresses.deviceArea), \"size\": \(self.addresses.size), \"features\": \(self.features.rawValue), "
            + "\"role\": \(JSONWriter.quoted(self.role.rawValue)), \"packed\": \(self.isPacked), "
            + "\"source\": \"\(self.source.rawValue)\""
            + (self.blockCapacity.map { ", \"capacity\": \($0)" } ?? "")
            + (self.netMTU.map { ", \"mtu\": \($0)" } ?? "") + "}"
    }

    /// The same queue set up again at `addresses`, watched from index 0 (counts carried on).
    func restarted(at addresses: QueueAddresses, packedStart: PackedStart) -> WatchedQueue {
        var fresh = self
        fresh.addresses = addresses
        fresh.nextAvail = 0
        fresh.nextUsed = 0
        fresh.forgetOffers()
        fresh.usedLost = false
        fresh.overExposed = false
        fresh.availEvent = EventIndexWatch()
        fresh.usedEvent = EventIndexWatch()
        fresh.quiet = nil
        fresh.ringFlagsReported = (false, false)
        if fresh.isPacked { fresh.packed = PackedCursors(start: packedStart) }
        return fresh
    }

    /// Reads the rings and records what changed, in a scan begun at `time` (CLOCK_REALTIME,
    /// the trace's clock) and `clock` (the recorder's monotonic clock, for how long a packed
    /// list is waited for). While the words the last scan read first hold what they held, and
    /// it recorded nothing and left nothing to finish (``QuietWords``), only they are read: a
    /// scan would find the same, and of what it follows only the times of the event-index
    /// waits move on.
    mutating func scan(
        memory: GuestMemoryMap, writer: RingRecordWriter, time: Int64 = RingRecordWriter.now(), clock: Double = QMPConnection.now()
    ) {
        if self.quiet?.hold == true {
            self.availEvent.unchanged(at: time)
            self.usedEvent.unchanged(at: time)
            return
        }
        let lines = writer.lines
        // Read before the scan: a word that moves while it reads is found moved by the next one.
        let words = QuietWords(self.firstReads, memory: memory)
        if self.isPacked {
            self.scanPacked(memory: memory, writer: writer, time: time, clock: clock)
        } else {
            self.scanSplit(memory: memory, writer: writer, time: time)
        }
        self.quiet = words.flatMap { writer.lines == lines && self.isSettled(reading: $0) ? $0 : nil }
    }

    /// A split ring's scan: its indices (and event indices) read, and what is new recorded.
    private mutating func scanSplit(memory: GuestMemoryMap, writer: RingRecordWriter, time: Int64) {
        let size = self.addresses.size
        // used.idx is read before avail.idx: every element used by then completes an offer
        // made by then, so offers are recorded before the completions that match them.
        // With EVENT_IDX each index is read between two reads of the event index that
        // concerns it (``EventIndexWatch``): used_event around used.idx, avail_event around avail.idx;
        // without it, avail.idx between two reads of used.flags.
        let watchesEvents = self.watchesEventIndices
        let usedEventBefore = watchesEvents ? memory.value(UInt16.self, at: self.usedEventAddress) : nil
        guard !self.suspended, size > 0, let used = self.index(at: self.addresses.deviceArea &+ 2, memory: memory) else { return }
        if watchesEvents {
            self.followEventIndex(.used, before: usedEventBefore, ring: used, memory: memory, time: time, writer: writer)
        }
        // What the device asks of the driver, read before avail.idx: avail_event, or without
        // EVENT_IDX used.flags (``followUsedFlag``).
        let askedBefore = memory.value(UInt16.self, at: watchesEvents ? self.availEventAddress : self.addresses.deviceArea)
        guard let avail = self.index(at: self.addresses.driverArea &+ 2, memory: memory) else { return }
        if watchesEvents {
            self.followEventIndex(.available, before: askedBefore, ring: avail, memory: memory, time: time, writer: writer)
        } else {
            self.followUsedFlag(before: askedBefore, ring: avail, used: used, memory: memory, time: time, writer: writer)
        }
        self.checkRingFlags(memory: memory, writer: writer)
        // SPLIT-AVAIL-IDX-NO-DECREASE: avail.idx behind what was read already, by no more than a
        // ring (further back reads as a jump, below). The driver may have reset the device and
        // set the queue up again before the trace told the sampler: the replay asks the
        // recording's reset lines.
        let back = Int(self.nextAvail &- avail)
        if self.availSeen > 0, back > 0, back <= Int(size) {
            return self.suspend("avail.idx went back", writer: writer, fault: (.availWentBack, from: self.nextAvail, to: avail))
        }
        // SPLIT-USED-IDX-WINDOW: used.idx behind the elements read already, or past avail.idx
        // (read after it, so the device cannot have used more than that). The replay judges
        // both as it judges avail.idx going back: a driver setting the queue up again after a
        // reset may zero one ring before the trace told the sampler of the reset.
        let usedBack = Int(self.nextUsed &- used)
        if self.usedSeen > 0, usedBack > 0, usedBack <= Int(size) {
            return self.suspend("used.idx went back", writer: writer, fault: (.usedWentBack, from: self.nextUsed, to: used))
        }
        // Past avail.idx by less than half the index space (as `inspect` reads a dump): further
        // is avail.idx far ahead, the window below. Before this watch has read anything, the
        // ring was not set up from zero — the driver's doing, not the device's: no fault.
        let usedAhead = Int(used &- avail)
        if usedAhead > 0, usedAhead < 0x8000 {
            guard self.availSeen + self.usedSeen > 0 else {
                return self.suspend("used.idx past avail.idx at the first read: the ring was not set up from zero", writer: writer)
            }
            return self.suspend("used.idx went past avail.idx", writer: writer, fault: (.usedPassedAvail, from: avail, to: used))
        }
        // SPLIT-AVAIL-IDX-WINDOW: used.idx read again after avail.idx can only make the count of
        // exposed chains smaller than it was when avail.idx was read, so a count above the size
        // is sure. The device may have gone past the avail.idx read meanwhile (the driver made
        // more available, the device used them): counted from the first read of used.idx, what
        // it used since is taken off, and the count comes out zero or less, not 65535.
        if let usedAfter = self.index(at: self.addresses.deviceArea &+ 2, memory: memory) {
            let exposed = Int(avail &- used) - Int(usedAfter &- used)
            if exposed > Int(size), !self.overExposed {
                var line = RecordLine("window", location: self.location)
                line.field("avail", avail)
                line.field("used", usedAfter)
                line.field("size", size)
                writer.write(line)
            }
            self.overExposed = exposed > Int(size)
        }
        if Int(avail &- self.nextAvail) > 2 * Int(size) || Int(used &- self.nextUsed) > 2 * Int(size) {
            return self.suspend("an index jumped by more than two rings", writer: writer)
        }
        // The used ring lapped the watcher: the offers those completions returned cannot be
        // told apart from the ones still owned, so all are forgotten (their completions come
        // back unread), and what is read now may already be reused memory (late).
        let lapped = Int(used &- self.nextUsed) > Int(size)
        if lapped { self.forgetOffers() }
        // Heads completed since the last scan: an offer among them may already have been
        // reclaimed (its indirect table freed) before it could be read.
        if avail != self.nextAvail {
            let completed = self.completedSince(memory: memory)
            self.readAvail(upTo: avail, completed: completed, lapped: lapped, memory: memory, writer: writer)
        }
        if used != self.nextUsed, !self.suspended {
            self.readUsed(upTo: used, offersRead: self.nextAvail == avail, memory: memory, writer: writer)
        }
    }

    /// How many entries one scan of a queue reads at most on each side (split: available and
    /// used ring entries; packed: lists and used descriptors); the rest wait for the next
    /// round. A burst on one queue would otherwise keep the sampler from every other for its
    /// whole length: Linux offers its 256 receive buffers at once and sends its net control
    /// commands right after, and QEMU used three of them on a packed ring while the sampler
    /// recorded those buffers (1.4 ms), one within 3 µs of its notification. On split rings
    /// Linux publishes avail.idx at each buffer it adds, but virtio-input's 64 event buffers
    /// came in one update and took one scan 210 µs. A packed ring's lists are
    /// lost once the device has used them, a split ring's descriptors once the driver reuses
    /// them, so no queue may wait behind another.
    static let entriesPerScan = 1

    /// Keeps an offer until its completion. More than two rings' worth outstanding means
    /// completions were lost (a device that stopped using the ring, a broken index): the
    /// offers are forgotten rather than held for ever.
    mutating func keep(_ chain: DescriptorChain?, as head: UInt16, late: Bool = false) {
        if self.offerCount >= 2 * Int(self.addresses.size) { self.forgetOffers() }
        self.offers[head, default: []].append(Offer(chain: chain, late: late))
        self.offerCount += 1
    }

    /// Drops every outstanding offer: what completes what is no longer known, so chains
    /// made available later are not judged against them (SPLIT-CHAINS-DISJOINT).
    mutating func forgetOffers() {
        self.offers = [:]
        self.offerCount = 0
        self.owners = [:]
        self.touched = []
        self.usedLost = true
    }

    /// Stops reading the queue; `fault`: an index was found where it cannot be (``IndexFault``):
    /// in the `suspended` line, avail.idx going back as `availBefore` and `avail`, used.idx going
    /// back as `usedBefore` and `used`, used.idx past avail.idx as `avail` and `used`.
    mutating func suspend(
        _ why: String, writer: RingRecordWriter, fault: (kind: IndexFault.Kind, from: UInt16, to: UInt16)? = nil
    ) {
        self.suspended = true
        // The rings no longer make sense: a wait going on is not judged.
        self.availEvent = EventIndexWatch()
        self.usedEvent = EventIndexWatch()
        var line = RecordLine("suspended", location: self.location)
        line.field("why", string: why)
        if let fault {
            let (before, found): (StaticString, StaticString) =
                switch fault.kind {
                case .availWentBack: ("availBefore", "avail")
                case .usedWentBack: ("usedBefore", "used")
                case .usedPassedAvail: ("avail", "used")
                }
            line.field(before, fault.from)
            line.field(found, fault.to)
        }
        writer.write(line)
    }

    /// Where to read from: `next`, or a ring's worth before `target` when the ring has been
    /// overwritten since (what was lost is counted and recorded).
    private mutating func resume(from next: UInt16, to target: UInt16, side: StaticString, writer: RingRecordWriter) -> UInt16 {
        let behind = Int(target &- next)
        guard behind > Int(self.addresses.size) else { return next }
        let lost = behind - Int(self.addresses.size)
        self.missed += lost
        if side.description == "used" { self.usedLost = true }
        var line = RecordLine("missed", location: self.location)
        line.field(side, lost)
        writer.write(line)
        return target &- self.addresses.size
    }

    private mutating func readAvail(
        upTo target: UInt16, completed: [UInt32: Int], lapped: Bool, memory: GuestMemoryMap, writer: RingRecordWriter
    ) {
        self.nextAvail = self.resume(from: self.nextAvail, to: target, side: "avail", writer: writer)
        let size = self.addresses.size
        // The heads of every new entry, read first: a head offered twice among them was
        // completed and reused before the first offer could be read.
        var heads: [UInt16] = []
        var index = self.nextAvail
        while index != target {
            let slot = index.quotientAndRemainder(dividingBy: size).remainder
            guard let head = memory.value(UInt16.self, at: self.addresses.driverArea &+ 4 &+ UInt64(slot) * 2) else { return }
            heads.append(head)
            index &+= 1
        }
        if let bad = heads.first(where: { $0 >= size }) {
            return self.suspend("the available ring names head \(bad), not below the queue size \(size)", writer: writer)
        }
        var lastOffer: [UInt16: Int] = [:]
        for (position, head) in heads.enumerated() { lastOffer[head] = position }
        for (position, head) in heads.enumerated().prefix(Self.entriesPerScan) {
            guard lastOffer[head] == position else {
                var line = RecordLine("avail", location: self.location)
                line.field("index", self.nextAvail)
                line.field("head", head)
                line.field("stale", true)
                writer.write(line)
                self.missed += 1
                self.availSeen += 1
                self.nextAvail &+= 1
                self.keep(nil, as: head)
                continue
            }
            let chain = DescriptorChain(
                head: head, table: self.addresses.descriptorArea, queueSize: size, memory: memory,
                indirectNegotiated: self.features.contains(.indirectDescriptors))
            // A transmitted frame is copied, and the request's header judged, at once, before the
            // used ring is looked at again: a read after that could see memory already reused.
            let data = self.transmittedBytes(chain, memory: memory)
            let requestDefects = self.requestDefects(of: chain, memory: memory)
            // Completed before it was read, or while it was: what the walk found, and the bytes
            // copied, may be memory the driver had already reused (Linux frees a request's
            // indirect table on completion; U-Boot refills its one transmit buffer). The used
            // ring is read again now the chain has been read: if the chain is not there, it was
            // read while the device still owned it, and the driver had not touched it.
            // Completions of this head beyond its earlier offers still outstanding complete this one.
            // The chain's reads done before the used ring is read again (the reader's half of a seqlock).
            atomicMemoryFence(ordering: .acquiring)
            let completedNow = completed.merging(self.completedSince(memory: memory), uniquingKeysWith: max)
            let late = lapped || completedNow[UInt32(head), default: 0] > self.offers[head, default: []].count
            var defects = chain.defectFindings()
            if !late { defects += self.sharedDescriptors(of: chain, completed: completedNow) + requestDefects }
            var line = RecordLine("avail", location: self.location)
            line.field("index", self.nextAvail)
            line.field("head", head)
            line.chainFields(chain, defects: defects)
            if !late, let data { line.field("data", hex: data) }
            if late {
                line.field("late", true)
                self.late += 1
            } else {
                for index in chain.tableIndices { self.owners[index] = head }
            }
            writer.write(line)
            self.keep(chain, as: head, late: late)
            self.availSeen += 1
            self.nextAvail &+= 1
        }
    }

    /// The heads of the used elements past `nextUsed` as the used ring shows them now, each
    /// with how many times it is there (a head completed, offered again and completed again).
    func completedSince(memory: GuestMemoryMap) -> [UInt32: Int] {
        let size = self.addresses.size
        guard let used = self.index(at: self.addresses.deviceArea &+ 2, memory: memory), Int(used &- self.nextUsed) <= Int(size)
        else { return [:] }
        var heads: [UInt32: Int] = [:]
        var index = self.nextUsed
        while index != used {
            let slot = index.quotientAndRemainder(dividingBy: size).remainder
            if let id = memory.value(UInt32.self, at: self.addresses.deviceArea &+ 4 &+ UInt64(slot) * 8) { heads[id, default: 0] += 1 }
            index &+= 1
        }
        return heads
    }

    /// Reads the used elements up to `target`, at most ``entriesPerScan``. `offersRead`: every
    /// entry made available before used.idx was read has been read; otherwise an element whose
    /// head has no offer outstanding completes one not read yet, and waits for it.
    private mutating func readUsed(upTo target: UInt16, offersRead: Bool, memory: GuestMemoryMap, writer: RingRecordWriter) {
        self.nextUsed = self.resume(from: self.nextUsed, to: target, side: "used", writer: writer)
        let size = self.addresses.size
        var taken = 0
        while self.nextUsed != target, taken < Self.entriesPerScan {
            let slot = self.nextUsed.quotientAndRemainder(dividingBy: size).remainder
            let element = self.addresses.deviceArea &+ 4 &+ UInt64(slot) * 8
            guard let id = memory.value(UInt32.self, at: element), let length = memory.value(UInt32.self, at: element &+ 4) else { return }
            guard id < UInt32(size) else {
                return self.suspend("the used ring names head \(id), not below the queue size \(size)", writer: writer)
            }
            // The oldest offer of this head is the one completed.
            let head = UInt16(id)
            guard offersRead || self.offers[head]?.isEmpty == false else { return }
            var chain: DescriptorChain?
            var late = false
            if var pending = self.offers[head], !pending.isEmpty {
                (chain, late) = (pending[0].chain, pending[0].late)
                pending.removeFirst()
                self.offers[head] = pending.isEmpty ? nil : pending
                self.offerCount -= 1
                self.touched.remove(head)
                for index in chain?.tableIndices ?? [] where self.owners[index] == head { self.owners[index] = nil }
            }
            var line = RecordLine("used", location: self.location)
            line.field("index", self.nextUsed)
            line.field("id", id)
            line.field("len", length)
            // A chain read after its completion may have been read from reused memory: what it
            // names is not where the frame is known to be.
            if chain == nil || late { line.field("unread", true) }
            if !late, let chain, let data = self.receivedBytes(chain, length: length, memory: memory) {
                // The frame copied before the rings are read again (the reader's half of a seqlock).
                atomicMemoryFence(ordering: .acquiring)
                self.recordReceived(data, of: chain, since: self.splitRingsSince(memory: memory), in: &line)
            }
            if !late { self.recordBlockStatus(chain, memory: memory, in: &line) }
            writer.write(line)
            self.usedSeen += 1
            self.nextUsed &+= 1
            taken += 1
        }
    }
}

extension WatchedQueue {
    /// SPLIT-AVAIL-FLAGS-VALUE and SPLIT-USED-FLAGS-VALUE over time: each ring's `flags` as this
    /// scan reads them, a value not allowed recorded in a `defect` line the first time a watch
    /// finds one on that ring. Drivers and devices rewrite the word at every batch they work
    /// through, so a side that writes a wrong value writes it again and again.
    mutating func checkRingFlags(memory: GuestMemoryMap, writer: RingRecordWriter) {
        let eventIndex = self.features.contains(.eventIndex)
        var defects: [ChainDefectFinding] = []
        if !self.ringFlagsReported.avail, let value = memory.value(UInt16.self, at: self.addresses.driverArea) {
            let found = ChainDefectFinding.ringFlags(avail: AvailFlags(rawValue: value), used: nil, eventIndex: eventIndex)
            self.ringFlagsReported.avail = !found.isEmpty
            defects += found
        }
        if !self.ringFlagsReported.used, let value = memory.value(UInt16.self, at: self.addresses.deviceArea) {
            let found = ChainDefectFinding.ringFlags(avail: nil, used: UsedFlags(rawValue: value), eventIndex: eventIndex)
            self.ringFlagsReported.used = !found.isEmpty
            defects += found
        }
        guard !defects.isEmpty else { return }
        var line = RecordLine("defect", location: self.location)
        line.defects(defects)
        writer.write(line)
    }
}

extension RecordLine {
    /// The `descriptors`, `writable` and `defects` fields of an `avail` line, split or packed.
    mutating func chainFields(_ chain: DescriptorChain, defects: [ChainDefectFinding]) {
        self.append(", \"descriptors\": [")
        for (position, element) in chain.elements.enumerated() {
            self.append(position == 0 ? "[" : ", [")
            self.append(element.descriptor.address)
            self.append(", ")
            self.append(element.descriptor.length)
            self.append(", ")
            self.append(element.descriptor.flags.rawValue)
            self.append(element.indirect ? ", 1]" : ", 0]")
        }
        self.append("]")
        self.field("writable", chain.writableBytes)
        self.defects(defects)
    }

    /// The `defects` field: `[{rule, message}]`.
    mutating func defects(_ defects: [ChainDefectFinding]) {
        self.append(", \"defects\": [")
        for (position, defect) in defects.enumerated() {
            self.append(position == 0 ? "{\"rule\": " : ", {\"rule\": ")
            self.append(JSONWriter.quoted(defect.rule))
            self.field("message", string: defect.message)
            self.append("}")
        }
        self.append("]")
    }
}

extension WatchedQueue {
    /// What the request rules find in a chain (or packed list) as it is made available.
    func requestDefects(of chain: DescriptorChain, memory: GuestMemoryMap) -> [ChainDefectFinding] {
        chain.requestDefectFindings(
            queue: self.index, addresses: self.addresses, type: self.type, role: self.role, features: self.features,
            blockCapacity: self.blockCapacity, netMTU: self.netMTU, memory: memory)
    }

    /// A net transmit chain's device-readable bytes (virtio_net_hdr and frame, at most a
    /// frame's worth); nil for other queues and for a chain whose walk found defects.
    func transmittedBytes(_ chain: DescriptorChain, memory: GuestMemoryMap) -> [UInt8]? {
        guard self.type == .network, self.role == .transmit, chain.defects.isEmpty else { return nil }
        return chain.bytes(writable: false, count: Int(min(chain.readableBytes, UInt64(Self.maximumData))), memory: memory)
    }

    /// A block request's status byte as the driver finds it when the completion is seen: the
    /// last byte of the chain's last, device-writable descriptor (§5.2.6), as `status`. None
    /// for other queues and for a chain not read, read late, or whose walk found defects.
    /// Recorded, not judged: a driver may keep the byte on its stack (U-Boot does) and reuse
    /// it the moment it sees the completion, before a scan reads it; QEMU's trace
    /// (`virtio_blk_req_complete`) is the device's own word for BLK-STATUS-VALUE.
    func recordBlockStatus(_ chain: DescriptorChain?, memory: GuestMemoryMap, in line: inout RecordLine) {
        guard self.type == .block, self.role == .request, let chain, chain.defects.isEmpty, let last = chain.elements.last,
            last.descriptor.flags.contains(.write), last.descriptor.length > 0,
            case (let address, false) = last.descriptor.address.addingReportingOverflow(UInt64(last.descriptor.length) - 1),
            let status = memory.value(UInt8.self, at: address)
        else { return }
        line.field("status", status)
    }

    /// The `length` bytes the device wrote into a net receive chain; nil for other queues, a
    /// chain not read (or read late), a defective one, or a length past its writable bytes.
    func receivedBytes(_ chain: DescriptorChain?, length: UInt32, memory: GuestMemoryMap) -> [UInt8]? {
        guard self.type == .network, self.role == .receive, let chain, chain.defects.isEmpty, UInt64(length) <= chain.writableBytes
        else { return nil }
        return chain.bytes(writable: true, count: min(Int(length), Self.maximumData), memory: memory)
    }
}

