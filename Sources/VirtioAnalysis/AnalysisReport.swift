import TraceSources
import VirtioModel

/// A latency distribution for one stage of a request's life on one queue, in nanoseconds.
public struct LatencySummary: Sendable, Equatable {
    /// `kick→pop`, `pop→fill`, `fill→flush` or `flush→interrupt`.
    public var stage: String
    public var count: UInt64
    public var minimum: Int64
    public var p50: Int64
    public var p90: Int64
    public var p99: Int64
    public var maximum: Int64
    public var mean: Double

    init?(stage: String, histogram: LatencyHistogram) {
        guard histogram.count > 0, let p50 = histogram.value(atQuantile: 0.5),
            let p90 = histogram.value(atQuantile: 0.9), let p99 = histogram.value(atQuantile: 0.99),
            let mean = histogram.mean
        else { return nil }
        self.stage = stage
        self.count = histogram.count
        self.minimum = histogram.minimum
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.maximum = histogram.maximum
        self.mean = mean
    }
}

/// What the trace showed for one queue.
public struct QueueReport: Sendable {
    public var index: Int?
    public var vq: HostPointer
    public var role: QueueRole
    public var kicks: Int
    public var qemuNotifies: Int
    public var pops: Int
    public var fills: Int
    /// Of those, fills of requests a reset of the device was draining.
    public var drainedFills: Int
    /// QEMU's messages about elements just popped from the queue (``QueueState/qemuErrors``).
    public var qemuErrors: Int
    public var flushes: Int
    public var flushedElements: UInt64
    /// Elements flushed since the device's last reset: the used index QEMU keeps, modulo 2^16.
    public var flushedSinceReset: UInt64
    /// The last fills since that reset, oldest first (up to 16): what the last used
    /// elements of a dump of the same moment must say, and when they were written.
    public var recentFills: [RecentFill]
    /// Fills not yet published by a flush at the end of the trace.
    public var fillsAwaitingFlush: Int
    public var interrupts: Int
    public var bytesUsed: UInt64
    public var maxInFlight: Int
    public var inFlightAtEnd: Int
    /// Time between the queue's first and last event, when timestamps exist.
    public var activeNanoseconds: Int64?
    public var latencies: [LatencySummary]
    /// Intervals that came out negative because lines were not in time order (counted as 0).
    public var negativeIntervals: Int
}

/// One `virtqueue_fill`: the length the device reported for an element, and when.
public struct RecentFill: Sendable, Hashable {
    public var length: UInt32
    public var time: Timestamp?
    /// The chain's buffers as QEMU mapped them when it took it (nil: its pop was not seen).
    public var shape: ChainShape?
}

/// How many device-readable and device-writable buffers a chain has: as QEMU's
/// `virtqueue_pop` maps them (`out_num`, `in_num`: one per descriptor, more for a buffer
/// crossing a memory region's end), or as a walk of the descriptor table finds them.
public struct ChainShape: Sendable, Hashable {
    public var readable: UInt32
    public var writable: UInt32

    public init(readable: UInt32, writable: UInt32) {
        self.readable = readable
        self.writable = writable
    }
}

/// What the trace showed for one device.
public struct DeviceReport: Sendable {
    public var label: String
    public var vdev: HostPointer
    public var type: DeviceType?
    public var typeDecidedBy: String
    public var transport: Transport
    public var mmioVersion: MMIOVersion?
    public var statusHistory: [UInt8]
    public var statusWrites: Int
    public var finalStatus: DeviceStatus
    public var driverFeatures: FeatureBits?
    public var queues: [QueueReport]
    /// The rings the driver last programmed through virtio-mmio registers (empty for PCI).
    public var programmedQueues: [ProgrammedQueue]
}

/// The result of analysing one trace.
public struct AnalysisReport: Sendable {
    public var file: String
    public var input: InputStatistics
    /// True when the events carried timestamps, so latencies could be measured.
    public var timestamped: Bool
    public var devices: [DeviceReport]
    /// The findings kept in full (the first ones of each rule, device and queue).
    public var findings: [Finding]
    /// All findings counted per rule ID, kept or not.
    public var findingCounts: [String: Int]
    public var totalFindings: Int
    /// Findings counted but not kept in full.
    public var omittedFindings: Int
    /// Findings a baseline (`--baseline`) accepted and took out of the report.
    public var suppressedByBaseline = 0
    /// A recorded run's rings (`vqscope analyze RUN_DIR`): the recording file and its queues.
    public var recording: String?
    public var recordedQueues: [RecordedQueueReport] = []
    /// The recording's used elements against the trace's fills (RECORD-TRACE-MISMATCH).
    public var recordingAgainstTrace = RecordingTraceAccount()
    /// The recorder's own account of the run (`run.json`); nil when it wrote none readable.
    public var recorder: RecorderReport?
    /// The recording's last line, when the file ends inside it (a recorder killed outright):
    /// not read.
    public var recordingCutOffLine: Int?

    /// Adds the findings of a recording's replay, and its queues; the waits for a notification
    /// the replay found are judged against `trace`, this report's trace (SPLIT-DRV-MUST-NOTIFY,
    /// SPLIT-DEV-MUST-NOTIFY), and its completions against the trace's fills
    /// (RECORD-TRACE-MISMATCH; `endedNormally`: the recorder wrote `run.json` and every line whole).
    public mutating func join(
        recording file: String, queues: [RecordedQueueReport], findings: FindingSink, waits: [AwaitedNotification] = [],
        trace: String, endedNormally: Bool
    ) throws(InputError) {
        var queues = queues
        var findings = findings
        let join = RecordingJoin(queues: queues, analysis: self)
        for slot in queues.indices { queues[slot].tracedDevice = join.device(queues[slot].device)?.label }
        for finding in try NotificationWaits.findings(waits, recorded: &queues, join: join, analysis: self, trace: trace, file: file) {
            findings.add(finding)
        }
        let (account, mismatches) = RecordTraceMismatch.account(
            queues, analysis: self, file: file, endedNormally: endedNormally,
            limited: findings.countsByRule[InputRules.modelLimits.id, default: 0] > 0)
        for finding in mismatches { findings.add(finding) }
        self.recordingAgainstTrace = account
        self.recording = file
        self.recordedQueues = queues
        self.findings += findings.kept
        for (rule, count) in findings.countsByRule { self.findingCounts[rule, default: 0] += count }
        self.totalFindings += findings.total
        self.omittedFindings += findings.dropped
    }
    /// Events ignored because the trace named more devices or queues than the model tracks.
    public var ignoredEvents: Int

    /// The highest severity among all findings, or nil when there are none.
    public var highestSeverity: Severity? { self.findings.map(\.severity).max() }
}
