import TraceSources
import VirtioAnalysis
import VirtioModel

/// Writes an ``AnalysisReport`` as JSON, schema `vqscope.report` version 1 (`docs/json-schema.md`).
public enum JSONReporter {
    public static let schema = "vqscope.report"
    public static let schemaVersion = 1

    /// `memory`: the dump given with `analyze --dump`, written as the `memory` object.
    public static func render(_ report: AnalysisReport, memory: InspectionReport? = nil, toolVersion: String) -> String {
        var json = JSONWriter()
        Self.begin(schema: Self.schema, version: Self.schemaVersion, toolVersion: toolVersion, into: &json)
        Self.input(report, into: &json)
        json.beginArray("devices")
        for device in report.devices { Self.device(device, into: &json) }
        json.endArray()
        if let memory {
            json.beginObject("memory")
            InspectionReporter.memory(memory, into: &json)
            json.endObject()
        } else {
            json.string("memory", nil)
        }
        Self.recording(report, into: &json)
        Self.findings(
            report.findings, total: report.totalFindings, omitted: report.omittedFindings, counts: report.findingCounts,
            suppressed: report.suppressedByBaseline, into: &json
        ) { json in json.number("ignoredEvents", report.ignoredEvents) }
        json.endObject()
        return json.output + "\n"
    }

    /// The `findings` array and the `summary` object (totals, by severity, by rule, then
    /// whatever `more` adds), shared by every JSON report.
    static func findings(
        _ findings: [Finding], total: Int, omitted: Int, counts: [String: Int], suppressed: Int = 0,
        into json: inout JSONWriter,
        more: (inout JSONWriter) -> Void = { _ in }
    ) {
        json.beginArray("findings")
        for finding in findings { Self.finding(finding, into: &json) }
        json.endArray()
        json.beginObject("summary")
        json.number("findings", total)
        json.number("omittedFindings", omitted)
        json.number("suppressedByBaseline", suppressed)
        json.string("highestSeverity", findings.map(\.severity).max()?.description)
        json.beginObject("bySeverity")
        for severity in Severity.allCases.reversed() {
            json.number(severity.description, findings.filter { $0.severity == severity }.count)
        }
        json.endObject()
        json.beginObject("byRule")
        for (rule, count) in counts.sorted(by: { $0.key < $1.key }) { json.number(rule, count) }
        json.endObject()
        more(&json)
        json.endObject()
    }

    /// Opens a report object with its `schema`, `schemaVersion` and `tool` members, shared by
    /// every JSON document vqscope writes.
    static func begin(schema: String, version: Int, toolVersion: String, into json: inout JSONWriter) {
        json.beginObject()
        json.string("schema", schema)
        json.number("schemaVersion", version)
        json.beginObject("tool")
        json.string("name", "vqscope")
        json.string("version", toolVersion)
        json.endObject()
    }

    private static func input(_ report: AnalysisReport, into json: inout JSONWriter) {
        let input = report.input
        json.beginObject("input")
        json.string("file", report.file)
        json.number("bytes", input.bytes)
        json.number("lines", input.lines)
        json.number("virtioEvents", input.virtioEvents)
        json.number("otherEvents", input.otherEvents)
        json.number("nonEventLines", input.nonEventLines)
        json.number("firstNonEventLine", input.firstNonEventLine)
        json.number("malformedLines", input.malformedLines)
        json.number("timestampedEvents", input.timestampedEvents)
        json.string("format", input.format.rawValue)
        json.string("clock", report.timestamped ? (input.format == .simple ? "monotonic" : "wall") : "none")
        // A simple trace's times are CLOCK_MONOTONIC: no date to print.
        let wall = input.format == .log
        json.string("firstTimestamp", wall ? input.firstTimestamp.map(Format.iso8601) : nil)
        json.string("lastTimestamp", wall ? input.lastTimestamp.map(Format.iso8601) : nil)
        var span: Int64?
        if let first = input.firstTimestamp, let last = input.lastTimestamp { span = last.nanoseconds(since: first) }
        json.number("spanNs", span)
        json.endObject()
    }

    private static func device(_ device: DeviceReport, into json: inout JSONWriter) {
        json.beginObject()
        json.string("label", device.label)
        json.string("vdev", Format.hex(device.vdev))
        json.string("type", device.type?.shortName)
        json.number("deviceID", device.type?.rawValue)
        json.string("typeDecidedBy", device.typeDecidedBy)
        json.string("transport", device.transport.rawValue)
        json.number("mmioVersion", device.mmioVersion?.rawValue)
        json.beginArray("statusHistory")
        for value in device.statusHistory { json.number(nil, value) }
        json.endArray()
        json.number("statusWrites", device.statusWrites)
        json.beginObject("finalStatus")
        json.number("value", device.finalStatus.rawValue)
        json.beginArray("bits")
        for name in device.finalStatus.names { json.string(nil, name) }
        json.endArray()
        json.endObject()
        if let features = device.driverFeatures {
            json.beginObject("driverFeatures")
            json.string("value", Format.hex(features.rawValue))
            json.beginArray("names")
            for name in features.names(for: device.type) { json.string(nil, name) }
            json.endArray()
            json.endObject()
        } else {
            json.string("driverFeatures", nil)
        }
        json.beginArray("queues")
        for queue in device.queues { Self.queue(queue, into: &json) }
        json.endArray()
        json.endObject()
    }

    private static func queue(_ queue: QueueReport, into json: inout JSONWriter) {
        json.beginObject()
        json.number("index", queue.index)
        json.string("vq", Format.hex(queue.vq))
        json.string("role", queue.role == .unknown ? nil : queue.role.rawValue)
        json.number("kicks", queue.kicks)
        json.number("qemuNotifies", queue.qemuNotifies)
        json.number("pops", queue.pops)
        json.number("fills", queue.fills)
        json.number("flushes", queue.flushes)
        json.number("flushedElements", queue.flushedElements)
        json.number("interrupts", queue.interrupts)
        json.number("bytesUsed", queue.bytesUsed)
        json.number("maxInFlight", queue.maxInFlight)
        json.number("inFlightAtEnd", queue.inFlightAtEnd)
        json.number("activeNs", queue.activeNanoseconds)
        if let active = queue.activeNanoseconds, active > 0 {
            let seconds = Double(active) / 1e9
            json.beginObject("throughput")
            json.double("requestsPerSecond", Double(queue.fills) / seconds)
            json.double("bytesPerSecond", Double(queue.bytesUsed) / seconds)
            json.endObject()
        } else {
            json.string("throughput", nil)
        }
        json.beginObject("latency")
        for summary in queue.latencies { Self.latency(summary, key: Format.stageKey(summary.stage), into: &json) }
        json.endObject()
        json.number("negativeIntervals", queue.negativeIntervals)
        json.endObject()
    }

    static func latency(_ summary: LatencySummary, key: String, into json: inout JSONWriter) {
        json.beginObject(key)
        json.number("count", summary.count)
        json.number("minNs", summary.minimum)
        json.number("p50Ns", summary.p50)
        json.number("p90Ns", summary.p90)
        json.number("p99Ns", summary.p99)
        json.number("maxNs", summary.maximum)
        json.double("meanNs", summary.mean)
        json.endObject()
    }

    /// `recording`: a recorded run's queues (`analyze RUN_DIR`), or null.
    static func recording(_ report: AnalysisReport, into json: inout JSONWriter) {
        guard let file = report.recording else { return json.string("recording", nil) }
        json.beginObject("recording")
        json.string("rings", file)
        json.beginArray("queues")
        for queue in report.recordedQueues {
            json.beginObject()
            json.string("device", queue.device)
            json.string("type", queue.type?.shortName)
            json.number("queue", queue.queue)
            json.string("tracedDevice", queue.tracedDevice)
            json.number("availEntries", queue.availEntries)
            json.number("usedEntries", queue.usedEntries)
            json.number("missed", queue.missed)
            json.number("missedCompletions", queue.missedCompletions)
            json.number("completionsBeforeWatch", queue.completionsBeforeWatch)
            json.number("line", queue.line)
            json.number("awaitedNotifications", queue.awaitedNotifications)
            json.number("unjudgedWaits", queue.unjudgedWaits)
            if let latency = queue.availToUsed { Self.latency(latency, key: "availToUsed", into: &json) } else { json.string("availToUsed", nil) }
            json.endObject()
        }
        json.endArray()
        let account = report.recordingAgainstTrace
        json.beginObject("againstTrace")
        json.number("queues", account.queues)
        json.number("mismatched", account.mismatched)
        json.number("usedEntries", account.usedEntries)
        json.number("missedCompletions", account.missedCompletions)
        json.number("fills", account.fills)
        json.number("notCompared", account.notCompared)
        json.endObject()
        json.number("cutOffLine", report.recordingCutOffLine)
        Self.recorder(report.recorder, into: &json)
        json.endObject()
    }

    /// `recording.recorder`: the recorder's own account of the run (`run.json`), or null.
    static func recorder(_ recorder: RecorderReport?, into json: inout JSONWriter) {
        guard let recorder else { return json.string("recorder", nil) }
        json.beginObject("recorder")
        json.string("qemuVersion", recorder.qemuVersion)
        if let status = recorder.exitStatus { json.number("exitStatus", status) } else { json.string("exitStatus", nil) }
        json.number("missed", recorder.missed)
        if let late = recorder.late { json.number("late", late) } else { json.string("late", nil) }
        if let gaps = recorder.samplerGaps {
            json.beginObject("samplerGaps")
            json.number("overMicroseconds", gaps.overMicroseconds)
            json.number("count", gaps.count)
            json.number("longestMicroseconds", gaps.longestMicroseconds)
            if let lengths = gaps.lengths {
                json.beginArray("lengths")
                for length in lengths {
                    json.beginObject()
                    json.number("fromMicroseconds", length.fromMicroseconds)
                    json.number("count", length.count)
                    json.endObject()
                }
                json.endArray()
            } else {
                json.string("lengths", nil)
            }
            if let waiting = gaps.waitingMicroseconds { json.number("waitingMicroseconds", waiting) } else { json.string("waitingMicroseconds", nil) }
            if let steal = gaps.stealMicroseconds { json.number("stealMicroseconds", steal) } else { json.string("stealMicroseconds", nil) }
            json.endObject()
        } else {
            json.string("samplerGaps", nil)
        }
        if let pauses = recorder.pauses {
            json.beginObject("pauses")
            json.number("afterMicroseconds", pauses.afterMicroseconds)
            if let realTime = pauses.realTime { json.bool("realTime", realTime) } else { json.string("realTime", nil) }
            json.number("count", pauses.count)
            json.number("cutShort", pauses.cutShort)
            json.number("totalMicroseconds", pauses.totalMicroseconds)
            json.number("longestMicroseconds", pauses.longestMicroseconds)
            json.number("longestStallMicroseconds", pauses.longestStallMicroseconds)
            json.endObject()
        } else {
            json.string("pauses", nil)
        }
        if let clock = recorder.traceClock {
            json.beginObject("traceClock")
            json.number("lines", clock.lines)
            json.number("lagMinimumMicroseconds", clock.lagMinimumMicroseconds)
            json.number("lagMaximumMicroseconds", clock.lagMaximumMicroseconds)
            json.endObject()
        } else {
            json.string("traceClock", nil)
        }
        json.number("traceLinesDropped", recorder.traceLinesDropped)
        json.endObject()
    }

    static func finding(_ finding: Finding, into json: inout JSONWriter) {
        json.beginObject()
        json.string("rule", finding.rule.id)
        json.string("severity", finding.severity.description)
        json.string("message", finding.message)
        json.string("section", finding.rule.section)
        json.string("section11", finding.rule.section11)
        json.beginObject("location")
        json.string("file", finding.location.file)
        json.number("line", finding.location.line)
        json.number("offset", finding.location.offset)
        json.string("timestamp", finding.location.timestamp.map(Format.iso8601))
        json.string("device", finding.location.device)
        json.number("queue", finding.location.queue)
        json.endObject()
        json.endObject()
    }
}
