import TraceSources
import VirtioModel

/// One side of a queue waiting for a notification while the other added entries, as a
/// recording saw it (an `awaiting` line of `rings.jsonl`): the waiting side's event index was
/// at `index` from a scan begun at `from` (it had taken every entry) until at least `last`;
/// the entries, up to ring index `reached`, were seen at `seen`; the wait was recorded as over
/// at `end`. A notification for these entries comes between `from` and `end`. On a packed
/// ring the indices are positions: a slot, with the wrap counter in bit 15 (§2.8.14).
public struct AwaitedNotification: Sendable, Equatable {
    /// Which notification was awaited (§2.1 "Notifications").
    public enum Kind: String, Sendable {
        /// The device waited at `avail_event` for the driver's available buffer notification.
        case available
        /// The driver waited at `used_event` for the device's used buffer notification.
        case used
    }

    public var device: String
    public var type: DeviceType?
    public var queue: Int
    public var kind: Kind
    public var index: UInt16
    public var reached: UInt16
    public var from: Int64
    public var seen: Int64
    public var last: Int64
    public var end: Int64
    /// On a packed ring (set by the replay from the queue's `queue` line).
    public var packed = false
    /// Without EVENT_IDX: a split ring's device waited with VIRTQ_USED_F_NO_NOTIFY clear in
    /// used.flags (`index` is where avail.idx stood then), not at an event index.
    public var flags = false
    /// The line of `rings.jsonl`, and which watch of the queue saw it (``RecordedQueueReport/watch``).
    public var line = 0
    public var watch = 0

    public init(
        device: String, queue: Int, kind: Kind, index: UInt16, reached: UInt16, from: Int64, seen: Int64, last: Int64, end: Int64
    ) {
        self.device = device
        self.queue = queue
        self.kind = kind
        self.index = index
        self.reached = reached
        self.from = from
        self.seen = seen
        self.last = last
        self.end = end
    }

    /// How long the event index was seen asking for the notification after the entries appeared.
    public var waited: Int64 { Timestamp.interval(from: self.seen, to: self.last) }
}

/// Judges a recording's waits for a notification against the trace of the same run
/// (SPLIT-DRV-MUST-NOTIFY, SPLIT-DEV-MUST-NOTIFY, PACKED-DRV-NOTIFY-BARRIER, PACKED-DEV-NOTIFY).
enum NotificationWaits {
    /// A wait is judged when the event index stayed at the entries' index this long after they
    /// were seen: a side that moved it away and back for a moment (``AwaitedNotification``'s
    /// recorder explains when) takes the new entries well before.
    static let minimumWait: Int64 = 1_000_000_000

    private struct QueueKey: Hashable {
        var vdev: HostPointer
        var queue: Int
        var kind: AwaitedNotification.Kind
    }

    /// The waits no notification in `trace` ended: for the device's, a `virtio_queue_notify` of
    /// the queue; for the driver's, a `virtio_notify` or `virtio_notify_irqfd` of it. A wait is
    /// judged only when the trace can show that notification: the recorded device is joined
    /// with one of the trace's (``RecordingJoin``), the trace has timestamps, and the traced
    /// queue of that index has at least one notification of the kind (none at all: they
    /// bypass QEMU, as with vhost). The other waits are counted in `recorded`, on the watch
    /// that saw them, as not judged. A wait followed through used.flags (``AwaitedNotification/flags``)
    /// also ends where the device takes an element of the queue (`virtqueue_pop`) within
    /// ``minimumWait`` of the entries being seen: it found them itself, after a moment with the
    /// flag set that the sampler did not see, when the driver may have read it set.
    static func findings(
        _ waits: [AwaitedNotification], recorded: inout [RecordedQueueReport], join: RecordingJoin, analysis: AnalysisReport, trace: String,
        file: String
    ) throws(InputError) -> [Finding] {
        guard !waits.isEmpty else { return [] }
        var slotOfWatch: [Int: Int] = [:]
        for (slot, queue) in recorded.enumerated() { slotOfWatch[queue.watch] = slot }
        // The joined devices' queues by their virtqueue pointer (interrupts and pops name the
        // queue by it), with their device.
        var queueOf: [HostPointer: (vdev: HostPointer, index: Int)] = [:]
        var joined: Set<HostPointer> = []
        // Each queue's waits of each kind, by start.
        var windows: [QueueKey: [Int]] = [:]
        for (position, wait) in waits.enumerated() {
            guard analysis.timestamped, let traced = join.device(wait.device),
                let queue = traced.queues.first(where: { $0.index == wait.queue }),
                wait.kind == .available ? queue.kicks + queue.qemuNotifies > 0 : queue.interrupts > 0
            else {
                if let slot = slotOfWatch[wait.watch] { recorded[slot].unjudgedWaits += 1 }
                continue
            }
            if joined.insert(traced.vdev).inserted {
                for queue in traced.queues { if let index = queue.index { queueOf[queue.vq] = (traced.vdev, index) } }
            }
            windows[QueueKey(vdev: traced.vdev, queue: wait.queue, kind: wait.kind), default: []].append(position)
        }
        guard !windows.isEmpty else { return [] }
        for key in windows.keys { windows[key]?.sort { waits[$0].from < waits[$1].from } }
        var notified = [Bool](repeating: false, count: waits.count)
        var reader = try TraceReader(path: trace)
        while let item = try reader.next() {
            guard case .record(let record) = item, let time = record.timestamp?.nanoseconds else { continue }
            let key: QueueKey
            var pop = false
            switch record.event {
            case .queueNotify(let vdev, let queue, _): key = QueueKey(vdev: vdev, queue: Int(queue), kind: .available)
            case .notify(let vdev, let vq), .notifyIrqfd(let vdev, let vq):
                guard let queue = queueOf[vq] else { continue }
                key = QueueKey(vdev: vdev, queue: queue.index, kind: .used)
            case .pop(let vq, _, _, _):
                guard let queue = queueOf[vq] else { continue }
                key = QueueKey(vdev: queue.vdev, queue: queue.index, kind: .available)
                pop = true
            default: continue
            }
            guard let positions = windows[key] else { continue }
            // The waits begun by then (the trace's microseconds may round a notification just
            // after a start down to just before it): the last of them, and the few before it
            // whose windows reach this far (one ends in the scan where the next begins).
            let start = { (position: Int) in waits[position].from.subtractingReportingOverflow(1_000) }
            var low = 0
            var high = positions.count
            while low < high {
                let middle = (low &+ high) &>> 1
                let (from, overflow) = start(positions[middle])
                if overflow || from <= time { low = middle + 1 } else { high = middle }
            }
            for position in positions[max(0, low - 4)..<low] where time <= waits[position].end {
                if pop {
                    let wait = waits[position]
                    let (latest, overflow) = wait.seen.addingReportingOverflow(Self.minimumWait)
                    guard wait.flags, overflow || time < latest else { continue }
                }
                notified[position] = true
            }
        }
        return windows.values.joined().filter { !notified[$0] }.sorted().map { Self.finding(waits[$0], file: file) }
    }

    static func finding(_ wait: AwaitedNotification, file: String) -> Finding {
        let available = wait.kind == .available
        let (adder, waiter) = available ? ("the driver", "device") : ("the device", "driver")
        let rule: RuleInfo
        let change: String
        if wait.packed {
            rule = available ? PackedDriverNotify.info : PackedDeviceNotify.info
            let position = { (value: UInt16) in "slot \(value & 0x7FFF) wrap \(value >> 15)" }
            change =
                "\(adder) \(available ? "made lists available" : "wrote used descriptors") (\(position(wait.index)) → \(position(wait.reached))) "
                + "while the \(waiter)'s event suppression (\(available ? "Device" : "Driver") Area, DESC) asked for a notification at \(position(wait.index))"
        } else if wait.flags {
            rule = available ? DriverMustNotify.info : DeviceMustNotify.info
            change =
                "\(adder) made entries available (avail.idx \(wait.index) → \(wait.reached)) while used.flags asked for a notification "
                + "(VIRTQ_USED_F_NO_NOTIFY clear, no EVENT_IDX)"
        } else {
            rule = available ? DriverMustNotify.info : DeviceMustNotify.info
            let (ring, event) = available ? ("avail.idx", "avail_event") : ("used.idx", "used_event")
            change =
                "\(adder) \(available ? "made entries available" : "used entries") (\(ring) \(wait.index) → \(wait.reached)) "
                + "while \(event) asked for a notification at \(wait.index)"
        }
        return Finding(
            rule: rule,
            message: "\(change), and sent none: the trace shows no notification of the queue while the \(waiter) waited "
                + "(\(wait.waited / 1_000_000) ms and more after the entries were seen)"
                + (wait.flags ? ", nor the device finding them itself within a second" : ""),
            location: Location(file: file, line: wait.line, timestamp: Timestamp(nanoseconds: wait.seen), device: wait.device, queue: wait.queue))
    }
}
