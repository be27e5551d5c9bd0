import GuestMemory
import VirtioAnalysis
import VirtioModel
import VirtioReporting

/// The recorder's half of SPLIT-DRV-MUST-NOTIFY and SPLIT-DEV-MUST-NOTIFY: when one side of a
/// split queue waits for a notification and the other adds entries, how long the waiting side's
/// event index kept asking for one.
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
/// judged (``NotificationWaits``). The wait ends when the event index moves or the watch ends,
/// and is then recorded (an `awaiting` line); `vqscope analyze RUN_DIR` looks for the
/// notification in the trace.
struct EventIndexWatch {
    /// The last scan found the waiting side at `index`; `time` is when that scan began,
    /// before it read anything.
    var idle: (index: UInt16, time: Int64)?
    var wait: Wait?

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
    /// `time`; the wait that ended, if one did.
    mutating func follow(before: UInt16?, ring: UInt16, after: UInt16?, size: UInt16, time: Int64) -> Wait? {
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
            ring != idle.index, ring &- idle.index <= size
        {
            self.wait = Wait(index: idle.index, reached: ring, from: idle.time, seen: time, last: time)
        }
        self.idle = before == ring && after == ring ? (ring, time) : nil
        return ended
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

    /// Whether the event indices are watched: a split ring with VIRTIO_F_EVENT_IDX negotiated.
    var watchesEventIndices: Bool { self.packed == nil && self.features.contains(.eventIndex) }

    /// Records `wait` of the side that waits for `notification`, which has ended
    /// (docs/record.md, `awaiting`): its line's time `t` is after the reads that saw it end.
    func recordWait(_ wait: EventIndexWatch.Wait, for notification: AwaitedNotification.Kind, writer: RingRecordWriter) {
        writer.write(
            "{\"kind\": \"awaiting\", \"t\": \(RingRecordWriter.now()), \(self.location), \"notification\": \"\(notification.rawValue)\", "
                + "\"index\": \(wait.index), \"reached\": \(wait.reached), \"from\": \(wait.from), \"seen\": \(wait.seen), \"last\": \(wait.last)}")
    }

    /// One scan's reads of an event index around its ring index (``EventIndexWatch``).
    mutating func followEventIndex(
        _ notification: AwaitedNotification.Kind, before: UInt16?, ring: UInt16, memory: GuestMemoryMap, time: Int64,
        writer: RingRecordWriter
    ) {
        let after = memory.value(UInt16.self, at: notification == .available ? self.availEventAddress : self.usedEventAddress)
        let size = self.addresses.size
        let ended =
            notification == .available
            ? self.availEvent.follow(before: before, ring: ring, after: after, size: size, time: time)
            : self.usedEvent.follow(before: before, ring: ring, after: after, size: size, time: time)
        if let ended { self.recordWait(ended, for: notification, writer: writer) }
    }

    /// The watch of this queue ends (reset, or the end of the recording): the waits going on.
    mutating func endWaits(writer: RingRecordWriter) {
        if let wait = self.usedEvent.end() { self.recordWait(wait, for: .used, writer: writer) }
        if let wait = self.availEvent.end() { self.recordWait(wait, for: .available, writer: writer) }
    }
}
