import GuestMemory
import VirtioAnalysis
import VirtioModel
import VirtioReporting

/// The recorder's half of SPLIT-DRV-MUST-NOTIFY and SPLIT-DEV-MUST-NOTIFY (and, on packed
/// rings, PACKED-DRV-NOTIFY-BARRIER and PACKED-DEV-NOTIFY): when one side of a queue waits for
/// a notification and the other adds entries, how long the waiting side's event index kept
/// asking for one.
///
/// With VIRTIO_F_EVENT_IDX each side writes, after its own ring, the index at which it wants
/// to be notified: the device `avail_event` (after the used ring, §2.7.8), the driver
/// `used_event` (after the available ring, §2.7.6). After making an entry available (using
/// one), the driver (device) MUST notify when the entry's index "was equal to" that value
/// (§2.7.10.1, §2.7.7.2). A side that has taken every entry writes the index of the next and
/// waits. So when one scan reads the event index equal to the other side's ring index on both
/// sides of reading that index (the waiting side asks to be told of the next entry), and a
/// later scan finds new entries with the event index still there on both sides, the adding
/// side read that value when it checked — unless the waiting side moved it away and back
/// meanwhile: QEMU's net transmit turns notifications on and then takes entries, writing lower
/// indices for a moment; Linux writes `used_event` 0 to turn interrupts off and its position to
/// turn them back on, then looks for used elements itself. Either side then goes on to take
/// the new entries, moving the event index past them; so only a wait of a second or more is
/// judged (``NotificationWaits``).
///
/// A packed ring has no indices in memory: the event index is the position (slot and wrap
/// counter) an event suppression structure in RING_EVENT_FLAGS_DESC mode names — the device's
/// in the Device Area, the driver's in the Driver Area (§2.8.10, §2.8.14) — and the ring index
/// is the other side's next position as the sampler's cursors have followed it. Linux and
/// QEMU write there the position they will look at next when they wait, as with a split ring;
/// a structure in another mode names no position (a wait ends there).
///
/// The wait ends when the event index moves or the watch ends, and is then recorded (an
/// `awaiting` line); `vqscope analyze RUN_DIR` looks for the notification in the trace.
struct EventIndexWatch {
    /// The last scan found the waiting side at `index`; `time` is when that scan began,
    /// before it read anything.
    var idle: (index: UInt16, time: Int64)?
    var wait: Wait?
    /// Without EVENT_IDX (``followFlag(asking:ring:progress:size:time:)``): the device's
    /// used.idx as the last scan read it.
    var progress: UInt16?

    /// Entries added while the other side waited at `index` (`reached`: the ring index when
    /// they were seen); `from`: the start of the scan that found it waiting, `seen`: of the
    /// scan that found the entries, `last`: of the last scan that read the event index still at
    /// `index`.
    struct Wait {
        var index: UInt16
        var reached: UInt16
        var from: Int64
        var seen: Int64
        var last: Int64
    }

    /// One scan's reads: the event index before and after the ring index, in a scan begun at
    /// `time`, on a ring of `size` entries, packed or split (``distance(from:to:size:packed:)``);
    /// the wait that ended, if one did.
    mutating func follow(before: UInt16?, ring: UInt16, after: UInt16?, size: UInt16, packed: Bool, time: Int64) -> Wait? {
        var ended: Wait?
        if let wait = self.wait {
            if before == wait.index, after == wait.index {
                self.wait?.last = time
            } else {
                ended = wait
                self.wait = nil
            }
        }
        if self.wait == nil, let idle = self.idle, before == idle.index, after == idle.index,
            ring != idle.index, Self.distance(from: idle.index, to: ring, size: size, packed: packed) <= Int(size)
        {
            self.wait = Wait(index: idle.index, reached: ring, from: idle.time, seen: time, last: time)
        }
        self.idle = before == ring && after == ring ? (ring, time) : nil
        return ended
    }

    /// Without VIRTIO_F_EVENT_IDX a device asks for every available buffer notification with
    /// VIRTQ_USED_F_NO_NOTIFY clear in used.flags (§2.7.10.1: "If flags is 0, the driver MUST send a
    /// notification"), whatever the driver's position. One scan's reads: `asking`, the flag
    /// read clear before and after the ring index `ring` (avail.idx), and `progress`, the
    /// device's used.idx. New entries, with the flag clear in this scan and the last and used.idx
    /// unchanged, start a wait; it lasts while both hold. A device that found the entries
    /// itself (QEMU turns the flag on while it works through a ring, and looks again after
    /// turning it off: the driver may have read it on) takes them, which the trace shows
    /// (``NotificationWaits``). Nothing in memory shows the driver's position, so the driver's
    /// waits for used buffer notifications are not followed this way.
    mutating func followFlag(asking: Bool, ring: UInt16, progress: UInt16, size: UInt16, time: Int64) -> Wait? {
        var ended: Wait?
        let settled = progress == self.progress
        if let wait = self.wait {
            if asking, settled {
                self.wait?.last = time
            } else {
                ended = wait
                self.wait = nil
            }
        }
        if self.wait == nil, let idle = self.idle, asking, settled, ring != idle.index, Int(ring &- idle.index) <= Int(size) {
            self.wait = Wait(index: idle.index, reached: ring, from: idle.time, seen: time, last: time)
        }
        self.idle = asking ? (ring, time) : nil
        self.progress = progress
        return ended
    }

    /// A scan that read what the last one read (``QuietWords``), begun at `time`: a wait goes
    /// on, and a side found waiting is found waiting still — what ``follow(before:ring:after:size:packed:time:)``
    /// does with the same reads.
    mutating func unchanged(at time: Int64) {
        self.wait?.last = time
        self.idle?.time = time
    }

    /// How many entries ring position `to` is past `from`. A split ring's indices count
    /// modulo 2^16 (§2.7.6); a packed ring's position is a slot with its wrap counter in bit
    /// 15, as `desc_event_off` and `desc_event_wrap` hold it (§2.8.14), and counts modulo two
    /// laps (the counter flips after each, §2.8.1).
    static func distance(from: UInt16, to: UInt16, size: UInt16, packed: Bool) -> Int {
        guard packed else { return Int(to &- from) }
        guard size > 0 else { return 0 }
        let lap = Int(size)
        // The lap with wrap counter 1 first, as both counters start at 1.
        let linear = { (position: UInt16) in Int(position & 0x7FFF) + (position & 0x8000 != 0 ? 0 : lap) }
        return ((linear(to) - linear(from)) % (2 * lap) + 2 * lap) % (2 * lap)
    }

    /// The wait going on when the watch ends (the device was reset, or recording stopped).
    mutating func end() -> Wait? {
        defer { self = EventIndexWatch() }
        return self.wait
    }
}

extension WatchedQueue {
    /// Where the device's `avail_event` is: after the used ring's `size` elements (§2.7.8).
    var availEventAddress: UInt64 { self.addresses.deviceArea &+ 4 &+ 8 &* UInt64(self.addresses.size) }
    /// Where the driver's `used_event` is: after the available ring's `size` entries (§2.7.6).
    var usedEventAddress: UInt64 { self.addresses.driverArea &+ 4 &+ 2 &* UInt64(self.addresses.size) }

    /// Whether the event indices are watched: VIRTIO_F_EVENT_IDX negotiated (on a packed ring,
    /// the event suppression structures' RING_EVENT_FLAGS_DESC mode, §2.8.10).
    var watchesEventIndices: Bool { self.features.contains(.eventIndex) }

    /// Records `wait` of the side that waits for `notification`, which has ended
    /// (docs/record.md, `awaiting`): its line's time `t` is after the reads that saw it end.
    func recordWait(_ wait: EventIndexWatch.Wait, for notification: AwaitedNotification.Kind, writer: RingRecordWriter) {
        var line = RecordLine("awaiting", location: self.location)
        line.field("notification", string: notification.rawValue)
        // Without EVENT_IDX, a split ring's wait is followed through used.flags.
        if !self.watchesEventIndices { line.field("flags", true) }
        line.field("index", wait.index)
        line.field("reached", wait.reached)
        line.field("from", wait.from)
        line.field("seen", wait.seen)
        line.field("last", wait.last)
        writer.write(line)
    }

    /// One scan's reads of an event index around its ring index (``EventIndexWatch``).
    mutating func followEventIndex(
        _ notification: AwaitedNotification.Kind, before: UInt16?, ring: UInt16, memory: GuestMemoryMap, time: Int64,
        writer: RingRecordWriter
    ) {
        let packed = self.isPacked
        let after =
            packed
            ? Self.packedEventPosition(notification, addresses: self.addresses, memory: memory)
            : memory.value(UInt16.self, at: notification == .available ? self.availEventAddress : self.usedEventAddress)
        let size = self.addresses.size
        let ended =
            notification == .available
            ? self.availEvent.follow(before: before, ring: ring, after: after, size: size, packed: packed, time: time)
            : self.usedEvent.follow(before: before, ring: ring, after: after, size: size, packed: packed, time: time)
        if let ended { self.recordWait(ended, for: notification, writer: writer) }
    }

    /// Without EVENT_IDX, one scan's reads of used.flags around avail.idx (`ring`), with used.idx
    /// (`used`) read before them (``EventIndexWatch/followFlag(asking:ring:progress:size:time:)``).
    mutating func followUsedFlag(before: UInt16?, ring: UInt16, used: UInt16, memory: GuestMemoryMap, time: Int64, writer: RingRecordWriter) {
        let after = memory.value(UInt16.self, at: self.addresses.deviceArea)
        let asking = before.map { !UsedFlags(rawValue: $0).contains(.noNotify) } == true
            && after.map { !UsedFlags(rawValue: $0).contains(.noNotify) } == true
        if let ended = self.availEvent.followFlag(asking: asking, ring: ring, progress: used, size: self.addresses.size, time: time) {
            self.recordWait(ended, for: .available, writer: writer)
        }
    }

    /// Where a packed ring's event suppression structure asks for `notification` (§2.8.14):
    /// the device's, for the driver's available buffer notifications, is the Device Area; the
    /// driver's, for used buffer notifications, the Driver Area (§2.8.10). A position (slot,
    /// wrap counter in bit 15) only in RING_EVENT_FLAGS_DESC mode with an offset inside the ring.
    ///
    /// Static, as the other helpers of the sampler's scan: a method of the queue would be
    /// handed a copy of all its state at each call.
    static func packedEventPosition(_ notification: AwaitedNotification.Kind, addresses: QueueAddresses, memory: GuestMemoryMap) -> UInt16? {
        Self.eventPosition(
            memory.value(UInt32.self, at: notification == .available ? addresses.deviceArea : addresses.driverArea), size: addresses.size)
    }

    /// The position an event suppression structure read as `word` names, on a ring of `size`
    /// (``packedEventPosition(_:addresses:memory:)``).
    static func eventPosition(_ word: UInt32?, size: UInt16) -> UInt16? {
        guard let word else { return nil }
        let structure = EventSuppression(offWrap: UInt16(truncatingIfNeeded: word), flags: UInt16(truncatingIfNeeded: word >> 16))
        guard structure.mode == .descriptor, structure.reservedFlagBits == 0, structure.offset < size else { return nil }
        return UInt16(truncatingIfNeeded: word)
    }

    /// The watch of this queue ends (reset, or the end of the recording): the waits going on.
    mutating func endWaits(writer: RingRecordWriter) {
        if let wait = self.usedEvent.end() { self.recordWait(wait, for: .used, writer: writer) }
        if let wait = self.availEvent.end() { self.recordWait(wait, for: .available, writer: writer) }
    }
}
