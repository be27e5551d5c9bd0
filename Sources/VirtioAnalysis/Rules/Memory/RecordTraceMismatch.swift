/// A recording and the trace of the same run count the same completions: on each queue of a
/// recorded device joined with a traced one (``RecordingJoin``), the used elements the recorder
/// read, with those it counted as missed, are the trace's `virtqueue_fill`s. A difference means
/// the recorder lost completions without counting them (a bug of vqscope's), or the trace lost
/// events; the replay's findings for that queue are then incomplete.
///
/// Spec: virtio v1.2 §2.7.8 (split: one used element per chain used) and §2.8 (packed: one used
/// descriptor per list); QEMU traces each as a `virtqueue_fill`.
enum RecordTraceMismatch {
    static let info = RuleInfo(
        id: "RECORD-TRACE-MISMATCH", severity: .warning, section: "n/a",
        summary: "a recording's used elements on a queue, with those it counted as missed, are the trace's fills",
        party: .input, evidence: "rings.jsonl's used lines and missed counts per queue against trace.log's virtqueue_fill lines")

    /// The queues compared and the findings for those that differ. `queues`: the recording's
    /// watches, each with the traced device it is joined with; `file`: the recording.
    static func account(_ queues: [RecordedQueueReport], analysis: AnalysisReport, file: String) -> (RecordingTraceAccount, [Finding]) {
        struct Recorded {
            var device: String
            var line: Int
            var used = 0
            var missed = 0
        }
        // Per traced device and queue index: the recording's counts over all its watches.
        var recorded: [String: [Int: Recorded]] = [:]
        for queue in queues {
            guard let traced = queue.tracedDevice else { continue }
            var entry = recorded[traced]?[queue.queue] ?? Recorded(device: queue.device, line: queue.line)
            entry.used = RingReplay.saturating(entry.used, queue.usedEntries)
            entry.missed = RingReplay.saturating(entry.missed, queue.missedCompletions)
            recorded[traced, default: [:]][queue.queue] = entry
        }
        var account = RecordingTraceAccount()
        var findings: [Finding] = []
        for device in analysis.devices {
            guard let watched = recorded[device.label] else { continue }
            let fills = Dictionary(device.queues.compactMap { queue in queue.index.map { ($0, queue.fills) } }, uniquingKeysWith: +)
            // A queue the trace shows used but the recorder never watched counts as none recorded.
            let indices = Set(watched.keys).union(fills.filter { $0.value > 0 }.keys)
            for index in indices.sorted() {
                let entry = watched[index] ?? Recorded(device: watched.values.first?.device ?? device.label, line: 0)
                let traced = fills[index] ?? 0
                account.add(used: entry.used, missed: entry.missed, fills: traced)
                let counted = RingReplay.saturating(entry.used, entry.missed)
                guard counted != traced else { continue }
                account.mismatched += 1
                let difference = counted > traced ? counted - traced : traced - counted
                let gap =
                    counted < traced
                    ? "\(difference) completion(s) the recording neither shows nor counts as missed"
                    : "\(difference) more than the trace shows (events missing from the trace?)"
                let recordedHow =
                    watched[index] == nil
                    ? "the recording never watched queue \(index)"
                    : "\(entry.used) used element(s) recorded on queue \(index), \(entry.missed) counted as missed"
                findings.append(
                    Finding(
                        rule: Self.info,
                        message: "\(recordedHow), but the trace shows \(traced) fill(s) on \(device.label) queue \(index): \(gap)",
                        location: Location(file: file, line: entry.line > 0 ? entry.line : nil, device: entry.device, queue: index)))
            }
        }
        return (account, findings)
    }
}

/// What ``RecordTraceMismatch`` compared: the queues of recorded devices joined with traced
/// ones, how many differed, and the totals on both sides.
public struct RecordingTraceAccount: Sendable, Equatable {
    public var queues = 0
    public var mismatched = 0
    /// Used elements the recorder read, and those it counted as missed.
    public var usedEntries = 0
    public var missedCompletions = 0
    /// The trace's `virtqueue_fill`s on the same queues.
    public var fills = 0

    mutating func add(used: Int, missed: Int, fills: Int) {
        self.queues += 1
        self.usedEntries = RingReplay.saturating(self.usedEntries, used)
        self.missedCompletions = RingReplay.saturating(self.missedCompletions, missed)
        self.fills = RingReplay.saturating(self.fills, fills)
    }
}
