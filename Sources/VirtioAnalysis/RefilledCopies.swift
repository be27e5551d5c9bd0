import TraceSources
import VirtioModel

/// A received frame the recorder copied while its buffer was already offered to the device
/// again (a `used` line with `refilled` and `copied`, docs/record.md): the device may have
/// written the next frame over it during the copy.
public struct RefilledCopy: Sendable, Equatable {
    public var device: String
    public var type: DeviceType?
    public var queue: Int
    /// The used element's index in a split ring's used ring (`used.idx` counts from the
    /// device's reset, §2.7.8).
    public var position: UInt16
    public var length: UInt32
    /// When the copy was complete (CLOCK_REALTIME nanoseconds, the clock of the trace).
    public var copied: Int64
    /// Its line in `rings.jsonl`.
    public var line: Int

    public init(device: String, type: DeviceType?, queue: Int, position: UInt16, length: UInt32, copied: Int64, line: Int) {
        self.device = device
        self.type = type
        self.queue = queue
        self.position = position
        self.length = length
        self.copied = copied
        self.line = line
    }
}

/// Which refilled copies the trace of the same run shows whole. QEMU's net device writes a
/// receive buffer between taking it (`virtqueue_pop`, traced before the write) and filling
/// its used element (`virtqueue_fill`), one packet after the other; a buffer offered again is
/// taken only after the frame's used element was filled. So when no `virtqueue_pop` of the
/// queue comes after the frame's fill and before the copy was complete, no write into the
/// buffer can have overlapped the copy. The frame's fill is the trace's fill of the queue
/// that is its `position`-th since the device's reset (`virtio_set_status` 0), of the same
/// length, and before the copy.
public enum RefilledCopies {
    /// The most copies judged, and of one position of a queue (a real run has a few: one a
    /// lap of the used ring, and a lap of its own after each reset); a hostile recording could
    /// name millions, and a hostile trace reset the device before every fill.
    public static let maximumCopies = 1 << 16
    static let copiesPerPosition = 16
    /// A pop this close after the copy's end is taken as during it (the trace's times are
    /// cut to microseconds).
    static let margin: Int64 = 1_000

    /// The lines of `copies` the trace shows whole. None when the trace has no timestamps,
    /// or the copy's device is not joined with one of the trace's (``RecordingJoin``, given
    /// the recorded devices by label); none past the first ``copiesPerPosition`` of a position.
    public static func whole(
        _ copies: [RefilledCopy], recorded: [String: RecordedDevice], analysis: AnalysisReport, trace: String
    ) throws(InputError) -> Set<Int> {
        guard analysis.timestamped, !copies.isEmpty else { return [] }
        let join = RecordingJoin(recorded: recorded, analysis: analysis)
        /// A queue's copies by position, and how many fills it has had since its device's reset.
        struct Queue {
            var vdev: HostPointer
            var copies: [UInt16: [Int]] = [:]
            var fills: UInt16 = 0
            /// Copies whose fill has come and no take since.
            var open: Set<Int> = []
        }
        var queues: [HostPointer: Queue] = [:]
        var filled = [Bool](repeating: false, count: min(copies.count, Self.maximumCopies))
        var overwritten = filled
        for (number, copy) in copies.prefix(Self.maximumCopies).enumerated() {
            guard let device = join.device(copy.device), let queue = device.queues.first(where: { $0.index == copy.queue }),
                queues[queue.vq]?.copies[copy.position]?.count ?? 0 < Self.copiesPerPosition
            else { continue }
            queues[queue.vq, default: Queue(vdev: device.vdev)].copies[copy.position, default: []].append(number)
        }
        guard !queues.isEmpty else { return [] }
        var reader = try TraceReader(path: trace)
        while let item = try reader.next() {
            guard case .record(let record) = item, let time = record.timestamp?.nanoseconds else { continue }
            switch record.event {
            case .setStatus(let vdev, 0):
                for key in queues.keys where queues[key]?.vdev == vdev { queues[key]?.fills = 0 }
            case .fill(let vq, _, let length, _):
                guard var queue = queues[vq] else { continue }
                for number in queue.copies[queue.fills] ?? [] where copies[number].length == length && time <= copies[number].copied {
                    // The latest such fill is the frame's (the one before may be a lap earlier).
                    filled[number] = true
                    overwritten[number] = false
                    queue.open.insert(number)
                }
                queue.fills &+= 1
                queues[vq] = queue
            case .pop(let vq, _, _, _):
                // Decides every open copy: taken during it, or after it (then no later take
                // matters). Each copy is open once per fill of its position: no hostile
                // recording makes this quadratic.
                guard var queue = queues[vq], !queue.open.isEmpty else { continue }
                for number in queue.open {
                    let (end, overflow) = copies[number].copied.addingReportingOverflow(Self.margin)
                    if overflow || time <= end { overwritten[number] = true }
                }
                queue.open.removeAll(keepingCapacity: true)
                queues[vq] = queue
            default: continue
            }
        }
        return Set(filled.indices.filter { filled[$0] && !overwritten[$0] }.map { copies[$0].line })
    }
}
