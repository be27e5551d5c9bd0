/// A recording and the trace of the same run count the same completions: on each queue of a
/// recorded device joined with a traced one (``RecordingJoin``), the used elements the recorder
/// read, with those it counted as missed, are the trace's `virtqueue_fill`s — fewer by at most
/// the fills of requests a reset was draining, which QEMU may write after the recorder stopped
/// watching. A difference means the recorder lost completions without counting them, or the
/// trace lost events; the replay's findings for that queue are then incomplete.
///
/// Queues whose counts cannot be held to each other are left out (``RecordingTraceAccount/notCompared``):
/// the trace shows no event of a queue the recording has completions of (vhost, or a trace
/// without the queue's events); the recorder stopped
/// reading it (suspended) or found completions made before its watch (counted by slot); QEMU
/// reported an error of the device (it may trace fills it does not write); the trace has fills
/// of the device on queues it could not number; or either side passed the model's limits. A
/// shortfall in a recording that did not end normally (no `run.json`, or a cut-off last line) is
/// not reported: its last lines were never written.
///
/// Spec: virtio v1.2 §2.7.8 (split: one used element per chain used) and §2.8 (packed: one used
/// descriptor per list); QEMU traces each as a `virtqueue_fill`.
enum RecordTraceMismatch {
    static let info = RuleInfo(
        id: "RECORD-TRACE-MISMATCH", severity: .warning, section: "n/a",
        summary: "a recording's used elements on a queue, with those it counted as missed, are the trace's fills",
        party: .input, evidence: "rings.jsonl's used lines and missed counts per queue against trace.log's virtqueue_fill lines")

    /// The queues compared and the findings for those that differ. `queues`: the recording's
    /// watches, each with the traced device it is joined with; `file`: the recording;
    /// `endedNormally`: the recorder wrote `run.json` and every line whole; `limited`: the
    /// replay passed its limits.
    static func account(
        _ queues: [RecordedQueueReport], analysis: AnalysisReport, file: String, endedNormally: Bool, limited: Bool
    ) -> (RecordingTraceAccount, [Finding]) {
        struct Recorded {
            var device: String
            var line: Int
            var used = 0
            var missed = 0
            /// A watch was suspended, or found completions made before it began.
            var uncountable = false
        }
        // Per traced device and queue index: the recording's counts over all its watches.
        var recorded: [String: [Int: Recorded]] = [:]
        for queue in queues {
            guard let traced = queue.tracedDevice else { continue }
            var entry = recorded[traced]?[queue.queue] ?? Recorded(device: queue.device, line: queue.line)
            entry.used = RingReplay.saturating(entry.used, queue.usedEntries)
            entry.missed = RingReplay.saturating(entry.missed, queue.missedCompletions)
            entry.uncountable = entry.uncountable || queue.suspended || queue.completionsBeforeWatch > 0
            recorded[traced, default: [:]][queue.queue] = entry
        }
        var account = RecordingTraceAccount()
        let overLimits = limited || analysis.ignoredEvents > 0 || analysis.findingCounts[InputRules.modelLimits.id, default: 0] > 0
        var findings: [Finding] = []
        for device in analysis.devices {
            guard let watched = recorded[device.label] else { continue }
            let unnumbered = device.queues.contains { $0.index == nil && $0.fills > 0 }
            let broken = device.queues.contains { $0.qemuErrors > 0 }
            var traced: [Int: (fills: Int, drained: Int)] = [:]
            for queue in device.queues {
                guard let index = queue.index else { continue }
                let sum = traced[index] ?? (0, 0)
                traced[index] = (RingReplay.saturating(sum.fills, queue.fills), RingReplay.saturating(sum.drained, queue.drainedFills))
            }
            // A queue the trace shows filled but the recorder never watched counts as none recorded.
            let indices = Set(watched.keys).union(traced.filter { $0.value.fills > 0 }.keys)
            for index in indices.sorted() {
                let entry = watched[index] ?? Recorded(device: watched.values.first?.device ?? device.label, line: 0)
                // A queue the trace shows nothing of is compared only while the recording has nothing either.
                let silent = entry.used == 0 && entry.missed == 0 ? (fills: 0, drained: 0) : nil
                guard !overLimits, !unnumbered, !broken, !entry.uncountable, let (fills, drained) = traced[index] ?? silent else {
                    account.notCompared += 1
                    continue
                }
                let counted = RingReplay.saturating(entry.used, entry.missed)
                let short = counted < fills - drained
                guard !short || endedNormally else {
                    account.notCompared += 1
                    continue
                }
                account.add(used: entry.used, missed: entry.missed, fills: fills)
                guard short || counted > fills else { continue }
                account.mismatched += 1
                let gap =
                    short
                    ? "\(fills - drained - counted) completion(s) the recording neither shows nor counts as missed"
                    : "\(counted - fills) more than the trace shows (events missing from the trace?)"
                let drainedNote = drained > 0 ? ", \(drained) of them draining a reset" : ""
                let recordedHow =
                    watched[index] == nil
                    ? "the recording never watched queue \(index)"
                    : "\(entry.used) used element(s) recorded on queue \(index), \(entry.missed) counted as missed"
                findings.append(
                    Finding(
                        rule: Self.info,
                        message: "\(recordedHow), but the trace shows \(fills) fill(s)\(drainedNote) on \(device.label) queue \(index): \(gap)",
                        location: Location(file: file, line: entry.line > 0 ? entry.line : nil, device: entry.device, queue: index)))
            }
        }
        return (account, findings)
    }
}

/// What ``RecordTraceMismatch`` compared: the queues of recorded devices joined with traced
/// ones, how many differed, the totals on both sides, and the queues left out.
public struct RecordingTraceAccount: Sendable, Equatable {
    public var queues = 0
    public var mismatched = 0
    /// Used elements the recorder read, and those it counted as missed.
    public var usedEntries = 0
    public var missedCompletions = 0
    /// The trace's `virtqueue_fill`s on the same queues.
    public var fills = 0
    /// Queues of joined devices whose counts could not be held to each other (``RecordTraceMismatch``).
    public var notCompared = 0

    public init(queues: Int = 0, mismatched: Int = 0, usedEntries: Int = 0, missedCompletions: Int = 0, fills: Int = 0, notCompared: Int = 0) {
        (self.queues, self.mismatched, self.usedEntries, self.missedCompletions) = (queues, mismatched, usedEntries, missedCompletions)
        (self.fills, self.notCompared) = (fills, notCompared)
    }

    mutating func add(used: Int, missed: Int, fills: Int) {
        self.queues += 1
        self.usedEntries = RingReplay.saturating(self.usedEntries, used)
        self.missedCompletions = RingReplay.saturating(self.missedCompletions, missed)
        self.fills = RingReplay.saturating(self.fills, fills)
    }
}
