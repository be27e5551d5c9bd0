import GuestMemory
import VirtioModel
import VirtioReporting

/// The recorder's half of SPLIT-DRV-MUST-NOTIFY: when the device waits for a notification
/// and the driver makes entries available, how long `avail_event` kept asking for one.
///
/// With VIRTIO_F_EVENT_IDX the device writes `avail_event` (the 16-bit word after the used
/// ring, §2.7.8) and the driver MUST notify when the entry it makes available is at that index
/// (§2.7.10.1: "If the idx field in the available ring (which determined where that descriptor
/// index was placed) was equal to avail_event, the driver MUST send a notification"). QEMU
/// writes it only while it wants notifications: the index past the entry it takes, as it takes
/// one, and the available index, as it turns notifications back on. So when one scan reads
/// `avail_event` equal to `avail.idx` on both sides of reading `avail.idx` (the device has
/// taken every entry, or is about to take those it has seen, and asks to be told of the next),
/// and a later scan finds new entries with `avail_event` still at that index on both sides,
/// the driver read that index when it checked — unless the device moved it back meanwhile:
/// QEMU's net transmit turns notifications on and then takes entries, writing lower indices
/// for a moment. Such a device goes on to take the new entries too, moving `avail_event` past
/// them; so only a wait of a second or more is judged (``DriverMustNotify``). The wait ends
/// when `avail_event` moves or the watch ends, and is then recorded (an `awaiting` line);
/// `vqscope analyze RUN_DIR` looks for the notification in the trace.
struct AvailEventWatch {
    /// The last scan found the device waiting at `index`; `time` is when that scan began,
    /// before it read anything.
    var idle: (index: UInt16, time: Int64)?
    var wait: Wait?

    /// Entries made available while the device waited at `index` (`avail`: the available
    /// index when they were seen); `from`: the start of the scan that found the device
    /// waiting, `seen`: of the scan that found the entries, `last`: of the last scan that read
    /// `avail_event` still at `index`.
    struct Wait {
        var index: UInt16
        var avail: UInt16
        var from: Int64
        var seen: Int64
        var last: Int64
    }

    /// One scan's reads: `avail_event` before and after `avail.idx`, in a scan begun at `time`;
    /// the `awaiting` line of a wait that ended, if one did.
    mutating func follow(before: UInt16?, avail: UInt16, after: UInt16?, size: UInt16, time: Int64) -> Wait? {
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
            avail != idle.index, avail &- idle.index <= size
        {
            self.wait = Wait(index: idle.index, avail: avail, from: idle.time, seen: time, last: time)
        }
        self.idle = before == avail && after == avail ? (avail, time) : nil
        return ended
    }

    /// The wait going on when the watch ends (the device was reset, or recording stopped).
    mutating func end() -> Wait? {
        defer { self = AvailEventWatch() }
        return self.wait
    }
}

extension WatchedQueue {
    /// Where the device's `avail_event` is: after the used ring's `size` elements (§2.7.8).
    var availEventAddress: UInt64 { self.addresses.deviceArea &+ 4 &+ 8 &* UInt64(self.addresses.size) }

    /// Whether `avail_event` is watched: a split ring with VIRTIO_F_EVENT_IDX negotiated.
    var watchesAvailEvent: Bool { self.packed == nil && self.features.contains(.eventIndex) }

    /// Records `wait`, which has ended (docs/record.md, `awaiting`): its line's time `t` is
    /// after the reads that saw it end.
    func recordWait(_ wait: AvailEventWatch.Wait, writer: RingRecordWriter) {
        writer.write(
            "{\"kind\": \"awaiting\", \"t\": \(RingRecordWriter.now()), \(self.location), \"index\": \(wait.index), "
                + "\"avail\": \(wait.avail), \"from\": \(wait.from), \"seen\": \(wait.seen), \"last\": \(wait.last)}")
    }

    /// The watch of this queue ends (reset, or the end of the recording).
    mutating func endWait(writer: RingRecordWriter) {
        if let wait = self.availEvent.end() { self.recordWait(wait, writer: writer) }
    }
}
