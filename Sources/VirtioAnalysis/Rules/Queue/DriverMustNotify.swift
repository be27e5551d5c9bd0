import TraceSources
import VirtioModel

/// With VIRTIO_F_EVENT_IDX the driver notifies the device when it makes available the entry
/// whose index the device wrote in `avail_event`: the device waits for that notification and
/// does not look at the ring until it comes.
///
/// Spec: virtio v1.2 §2.7.10.1 (1.1: §2.6.10.1), "If the idx field in the available ring
/// (which determined where that descriptor index was placed) was equal to avail_event, the
/// driver MUST send a notification."
enum DriverMustNotify {
    static let info = RuleInfo(
        id: "SPLIT-DRV-MUST-NOTIFY", severity: .error, section: "2.7.10.1", section11: "2.6.10.1",
        summary: "with EVENT_IDX, the driver notifies the device when it makes available the entry avail_event names",
        party: .driver,
        evidence: "a recording: avail_event at the new entries' index for a second and more, and no virtio_queue_notify of the queue in the trace")

    /// A wait is judged when `avail_event` stayed at the entries' index this long after they
    /// were seen: a device that moved it back for a moment (QEMU's net transmit turns
    /// notifications on, then takes entries) has taken the new entries well before.
    public static let minimumWait: Int64 = 1_000_000_000

    private struct QueueKey: Hashable {
        var vdev: HostPointer
        var queue: Int
    }

    /// The waits no notification in `trace` ended. The recorded device is joined with the
    /// trace's device of the same type when each side has exactly one (a run directory's
    /// `rings.jsonl` names devices by QOM path, the trace by host pointer); the waits of other
    /// devices are counted in `recorded` as not judged.
    static func findings(
        _ waits: [AwaitedNotification], recorded: inout [RecordedQueueReport], analysis: AnalysisReport, trace: String, file: String
    ) throws(InputError) -> [Finding] {
        guard !waits.isEmpty else { return [] }
        var recordedDevices: [DeviceType: Set<String>] = [:]
        for queue in recorded { if let type = queue.type { recordedDevices[type, default: []].insert(queue.device) } }
        var tracedDevices: [DeviceType: [HostPointer]] = [:]
        for device in analysis.devices { if let type = device.type { tracedDevices[type, default: []].append(device.vdev) } }
        // Each queue's waits by start: one at a time per queue, so they do not overlap.
        var windows: [QueueKey: [Int]] = [:]
        for (position, wait) in waits.enumerated() {
            guard let type = wait.type, recordedDevices[type]?.count == 1, let traced = tracedDevices[type], traced.count == 1 else {
                if let slot = recorded.lastIndex(where: { $0.device == wait.device && $0.queue == wait.queue }) {
                    recorded[slot].unjudgedWaits += 1
                }
                continue
            }
            windows[QueueKey(vdev: traced[0], queue: wait.queue), default: []].append(position)
        }
        for key in windows.keys { windows[key]?.sort { waits[$0].from < waits[$1].from } }
        var notified = [Bool](repeating: false, count: waits.count)
        var reader = try TraceReader(path: trace)
        while let item = try reader.next() {
            guard case .record(let record) = item, case .queueNotify(let vdev, let queue, _) = record.event,
                let time = record.timestamp?.nanoseconds, let positions = windows[QueueKey(vdev: vdev, queue: Int(queue))]
            else { continue }
            // The last wait begun by then (the trace's microseconds may round a notification
            // just after the start down to just before it).
            var low = 0
            var high = positions.count
            while low < high {
                let middle = (low + high) / 2
                if waits[positions[middle]].from &- 1_000 <= time { low = middle + 1 } else { high = middle }
            }
            if low > 0, time <= waits[positions[low - 1]].end { notified[positions[low - 1]] = true }
        }
        return windows.values.joined().filter { !notified[$0] }.sorted().map { position in
            let wait = waits[position]
            return Finding(
                rule: Self.info,
                message: "the driver made entries available (avail.idx \(wait.index) → \(wait.availIndex)) while avail_event "
                    + "asked for a notification at \(wait.index), and sent none: the trace shows no notification of the queue "
                    + "while the device waited (\(wait.waited / 1_000_000) ms and more after the entries were seen)",
                location: Location(file: file, line: wait.line, timestamp: Timestamp(nanoseconds: wait.seen), device: wait.device, queue: wait.queue))
        }
    }
}

/// Entries made available while the device's `avail_event` named their index, as a recording
/// saw them (an `awaiting` line of `rings.jsonl`): `avail_event` was at `index` from a scan
/// begun at `from` (the device had taken every entry) until at least `last`; the entries were
/// seen at `seen`; the wait was recorded as over at `end`. A notification for these entries
/// comes between `from` and `end`.
public struct AwaitedNotification: Sendable, Equatable {
    public var device: String
    public var type: DeviceType?
    public var queue: Int
    public var index: UInt16
    public var availIndex: UInt16
    public var from: Int64
    public var seen: Int64
    public var last: Int64
    public var end: Int64
    /// The line of `rings.jsonl`.
    public var line = 0

    public init(device: String, queue: Int, index: UInt16, availIndex: UInt16, from: Int64, seen: Int64, last: Int64, end: Int64) {
        self.device = device
        self.queue = queue
        self.index = index
        self.availIndex = availIndex
        self.from = from
        self.seen = seen
        self.last = last
        self.end = end
    }

    /// How long `avail_event` was seen asking for the notification after the entries appeared.
    public var waited: Int64 { Timestamp.interval(from: self.seen, to: self.last) }
}
