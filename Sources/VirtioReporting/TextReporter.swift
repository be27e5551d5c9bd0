import TraceSources
import VirtioAnalysis
import VirtioModel

/// Writes an ``AnalysisReport`` for people: input summary, devices, queues, latencies and
/// findings, as aligned tables. Colour only when asked (the CLI asks on a terminal without
/// `NO_COLOR`).
public enum TextReporter {
    /// `memory`: the dump given with `analyze --dump`, whose queues are listed before the
    /// findings (which already include the dump's).
    public static func render(_ report: AnalysisReport, memory: InspectionReport? = nil, color: Bool) -> String {
        var out = ""
        out += "vqscope: \(report.file)\n"
        out += Self.inputLine(report) + "\n"
        out += "\nDevices (\(report.devices.count))\n"
        if report.devices.isEmpty {
            out += "  none: the trace holds no events that name a virtio device\n"
        } else {
            var devices = TextTable([
                ("DEVICE", .left), ("TRANSPORT", .left), ("STATUS WRITES", .left), ("FINAL", .left), ("TYPE DECIDED BY", .left),
            ])
            for device in report.devices {
                let transport =
                    device.transport.rawValue + (device.mmioVersion.map { $0 == .legacy ? " v1 (legacy)" : " v2" } ?? "")
                var history = device.statusHistory.map(String.init).joined(separator: ",")
                if device.statusWrites > device.statusHistory.count { history += ",…" }
                devices.add([device.label, transport, history, "\(device.finalStatus.rawValue)", device.typeDecidedBy])
            }
            out += devices.render() + "\n"
            out += Self.queues(report) + Self.latencies(report)
            out += Self.recording(report)
        }
        if let memory { out += "\nMemory dump: \(memory.dump)\n" + InspectionReporter.memorySection(memory) }
        out += Self.findings(report, color: color)
        return out
    }

    private static func inputLine(_ report: AnalysisReport) -> String {
        let input = report.input
        var parts = [
            "\(Format.grouped(input.lines)) lines", "\(Format.grouped(input.virtioEvents)) virtio events",
            "\(Format.grouped(input.otherEvents)) other events skipped",
        ]
        if input.nonEventLines > 0 {
            parts.append(
                "\(Format.grouped(input.nonEventLines)) non-event lines skipped (first at line \(input.firstNonEventLine ?? 0))")
        }
        if input.malformedLines > 0 { parts.append("\(input.malformedLines) malformed") }
        var line = "Input: " + (input.format == .simple ? "simple trace, records: " : "") + parts.joined(separator: ", ")
        if report.timestamped, input.format == .simple, let first = input.firstTimestamp, let last = input.lastTimestamp {
            line += "\nClock: CLOCK_MONOTONIC (simple trace), \(Format.duration(last.nanoseconds(since: first))) from first to last event"
        } else if report.timestamped, let first = input.firstTimestamp, let last = input.lastTimestamp {
            line += "\nClock: wall clock, \(Format.iso8601(first)) to \(Format.iso8601(last)) (\(Format.duration(last.nanoseconds(since: first))))"
        } else {
            line += "\nClock: the trace has no timestamps (QEMU ran without -msg timestamp=on): counts only, no latencies"
        }
        return line
    }

    private static func queues(_ report: AnalysisReport) -> String {
        var table = TextTable([
            ("DEVICE", .left), ("Q", .right), ("ROLE", .left), ("KICKS", .right), ("POPS", .right), ("FILLS", .right),
            ("FLUSHES", .right), ("IRQS", .right), ("BYTES", .right), ("MAX INFL", .right), ("INFL@END", .right),
        ])
        var any = false
        for device in report.devices {
            for queue in device.queues where queue.pops + queue.kicks + queue.fills + queue.interrupts > 0 {
                any = true
                var kicks = Format.grouped(queue.kicks)
                if queue.qemuNotifies > 0 { kicks += "+\(queue.qemuNotifies)q" }
                table.add([
                    device.label, queue.index.map(String.init) ?? "?", queue.role.rawValue, kicks,
                    Format.grouped(queue.pops), Format.grouped(queue.fills), Format.grouped(queue.flushes),
                    Format.grouped(queue.interrupts), Format.grouped(queue.bytesUsed), "\(queue.maxInFlight)",
                    "\(queue.inFlightAtEnd)",
                ])
            }
        }
        guard any else { return "\nQueues: no queue activity\n" }
        return "\nQueues (KICKS: guest notifications, +Nq: QEMU's own ioeventfd notifications)\n" + table.render() + "\n"
    }

    /// The recorded rings of `analyze RUN_DIR`: per queue, what the recorder saw and the time
    /// from each chain made available to its used element.
    private static func recording(_ report: AnalysisReport) -> String {
        guard let file = report.recording else { return "" }
        var table = TextTable([
            ("DEVICE", .left), ("IN THE TRACE", .left), ("Q", .right), ("AVAIL", .right), ("USED", .right), ("MISSED", .right),
            ("AVAIL→USED P50", .right), ("P90", .right), ("P99", .right), ("MAX", .right),
        ])
        for queue in report.recordedQueues where queue.availEntries + queue.usedEntries + queue.missed > 0 {
            let latency = queue.availToUsed
            table.add([
                queue.device, queue.tracedDevice ?? "-", "\(queue.queue)", Format.grouped(queue.availEntries), Format.grouped(queue.usedEntries),
                Format.grouped(queue.missed), latency.map { Format.duration($0.p50) } ?? "-",
                latency.map { Format.duration($0.p90) } ?? "-", latency.map { Format.duration($0.p99) } ?? "-",
                latency.map { Format.duration($0.maximum) } ?? "-",
            ])
        }
        return "\nRecorded rings (\(file); IN THE TRACE: the trace's device it is joined with; "
            + "MISSED: stale or overwritten before the recorder read them, or read only once completed)\n"
            + table.render() + "\n" + Self.againstTrace(report.recordingAgainstTrace)
            + (report.recordingCutOffLine.map { "The recording ends inside its line \($0) (the recorder did not end normally): not read\n" } ?? "")
            + Self.recorder(report.recorder)
    }

    /// The recording's used elements against the trace's fills (RECORD-TRACE-MISMATCH), in one line.
    static func againstTrace(_ account: RecordingTraceAccount) -> String {
        let left = account.notCompared > 0 ? "; \(Format.grouped(account.notCompared)) queue(s) not compared (docs/rules/RECORD-TRACE-MISMATCH.md)" : ""
        guard account.queues > 0 else {
            return account.notCompared > 0
                ? "Against the trace: no queue compared\(left)\n" : "Against the trace: no recorded device is joined with one of the trace's\n"
        }
        let sums =
            "\(Format.grouped(account.usedEntries)) recorded + \(Format.grouped(account.missedCompletions)) counted as missed, "
            + "\(Format.grouped(account.fills)) fills in the trace"
        return account.mismatched == 0
            ? "Against the trace: on all \(account.queues) queues compared, the used elements recorded plus those counted as missed are the trace's fills (\(sums))\(left)\n"
            : "Against the trace: on \(account.mismatched) of \(account.queues) queues compared, the used elements recorded plus those counted as missed "
                + "differ from the trace's fills (RECORD-TRACE-MISMATCH; in all \(sums))\(left)\n"
    }

    /// The recorder's own account of the run (`run.json`), in one line.
    static func recorder(_ recorder: RecorderReport?) -> String {
        guard let recorder else { return "Recorder: no readable run.json (a recording that did not end normally has none)\n" }
        var parts = ["QEMU \(recorder.qemuVersion ?? "of unknown version") exited with \(recorder.exitStatus.map(String.init) ?? "an unknown status")"]
        parts.append(
            "\(Format.grouped(recorder.missed)) entries missed, "
                + (recorder.late.map { "\(Format.grouped($0)) chains read only once completed" } ?? "chains read late not counted"))
        // A manifest's count of microseconds, told as a duration (a hostile one clamped).
        func duration(_ microseconds: Int) -> String {
            let nanoseconds = Int64(clamping: max(microseconds, 0)).multipliedReportingOverflow(by: 1_000)
            return Format.duration(nanoseconds.overflow ? .max : nanoseconds.partialValue)
        }
        if let gaps = recorder.samplerGaps {
            parts.append(
                "the sampler began \(Format.grouped(gaps.count)) rounds more than \(gaps.overMicroseconds) µs after the one before "
                    + "(the longest gap \(duration(gaps.longestMicroseconds))"
                    + (gaps.lengths.map { lengths in
                        "; by length in µs: "
                            + lengths.indices.map { index in
                                "\(Format.grouped(lengths[index].count)) of \(lengths[index].fromMicroseconds)"
                                    + (index + 1 < lengths.count ? "–\(lengths[index + 1].fromMicroseconds)" : " and over")
                            }.joined(separator: ", ")
                    } ?? "") + ")")
            if let waiting = gaps.waitingMicroseconds {
                parts.append("it waited \(duration(waiting)) in all while other tasks had its processor")
            }
            if let steal = gaps.stealMicroseconds { parts.append("the hypervisor took \(duration(steal)) of that processor") }
        }
        if let pauses = recorder.pauses {
            parts.append(
                "QEMU was paused \(Format.grouped(pauses.count)) times while the sampler stalled over "
                    + "\(duration(pauses.afterMicroseconds)) (\(duration(pauses.totalMicroseconds)) in all, the longest "
                    + "\(duration(pauses.longestMicroseconds)), the longest stall before one \(duration(pauses.longestStallMicroseconds))"
                    + (pauses.cutShort > 0 ? ", \(Format.grouped(pauses.cutShort)) ended by the limit" : "")
                    + (pauses.realTime == true ? "; the guard that paused it ran under SCHED_FIFO" : "") + ")")
        }
        if let clock = recorder.traceClock, let least = clock.lagMinimumMicroseconds, let most = clock.lagMaximumMicroseconds {
            parts.append(
                least < 0
                    ? "a trace line was read \(duration(Int(clamping: least.magnitude))) before its own timestamp: the trace's clock is not the recorder's, "
                        + "and times joined across them are off"
                    : "the trace's \(Format.grouped(clock.lines)) timestamped lines were read \(duration(least))–\(duration(most)) "
                        + "after their timestamps, on the recorder's clock")
        }
        if let dropped = recorder.traceLinesDropped {
            parts.append("\(Format.grouped(dropped)) trace lines of accesses to other memory regions were not kept")
        }
        return "Recorder (run.json): " + parts.joined(separator: "; ") + "\n"
    }

    private static func latencies(_ report: AnalysisReport) -> String {
        guard report.timestamped else { return "" }
        var table = TextTable([
            ("DEVICE", .left), ("Q", .right), ("STAGE", .left), ("COUNT", .right), ("P50", .right), ("P90", .right),
            ("P99", .right), ("MAX", .right),
        ])
        var any = false
        for device in report.devices {
            for queue in device.queues {
                for stage in queue.latencies {
                    any = true
                    table.add([
                        device.label, queue.index.map(String.init) ?? "?", stage.stage, Format.grouped(stage.count),
                        Format.duration(stage.p50), Format.duration(stage.p90), Format.duration(stage.p99),
                        Format.duration(stage.maximum),
                    ])
                }
            }
        }
        guard any else { return "\nLatency: no complete intervals\n" }
        return "\nLatency (percentiles within 6.25 %)\n" + table.render() + "\n"
    }

    private static func findings(_ report: AnalysisReport, color: Bool) -> String {
        Self.findingsSection(
            report.findings, total: report.totalFindings, omitted: report.omittedFindings,
            suppressed: report.suppressedByBaseline, color: color)
    }

    /// The findings part of a report, shared by `analyze` and `inspect`.
    public static func findingsSection(
        _ findings: [Finding], total: Int, omitted: Int, suppressed: Int = 0, color: Bool
    ) -> String {
        let counts = Severity.allCases.reversed().map { severity in
            "\(findings.filter { $0.severity == severity }.count) \(severity)"
        }
        var out = "\nFindings (\(total): \(counts.joined(separator: ", "))"
        if omitted > 0 { out += "; \(omitted) more of the same rules not listed" }
        if suppressed > 0 { out += "; \(suppressed) more suppressed by the baseline" }
        out += ")\n"
        if findings.isEmpty { return out + "  none\n" }
        for finding in findings.sorted(by: Self.order) {
            var place = finding.location.file
            if let line = finding.location.line { place += ":\(line)" }
            var subject: [String] = []
            if let device = finding.location.device { subject.append(device) }
            if let queue = finding.location.queue { subject.append("queue \(queue)") }
            let severity = Self.paint(finding.severity, color: color)
            let section =
                finding.rule.section == "n/a"
                ? "" : " — §" + finding.rule.section + (finding.rule.section11.map { " (1.1 §\($0))" } ?? "")
            out += "  \(severity) \(finding.rule.id) \(place)"
            if !subject.isEmpty { out += " [\(subject.joined(separator: " "))]" }
            out += "\n      \(finding.message)\(section)\n"
        }
        return out
    }

    private static func order(_ lhs: Finding, _ rhs: Finding) -> Bool {
        if lhs.severity != rhs.severity { return lhs.severity > rhs.severity }
        return (lhs.location.line ?? 0) < (rhs.location.line ?? 0)
    }

    private static func paint(_ severity: Severity, color: Bool) -> String {
        let word = severity.description
        guard color else { return word }
        let code: String
        switch severity {
        case .error: code = "31;1"
        case .warning: code = "33;1"
        case .note: code = "36"
        }
        return "\u{1B}[\(code)m\(word)\u{1B}[0m"
    }
}
