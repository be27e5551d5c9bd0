import ArgumentParser
import GuestMemory
import LiveCapture
import PcapExport
import TraceSources
import VirtioAnalysis
import VirtioModel
import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

struct Pcap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcap",
        abstract: "Export the network frames in a dump's virtio-net queues to a pcap file, through libpcap.",
        discussion: """
            Frames come from the net queues of a guest memory dump (--dump, located with --qmp, a \
            trace or --queue as for `inspect`): transmit chains the device has not sent yet, and the \
            completed transmit chains and received packets whose buffers still hold them. The \
            virtio_net_hdr is removed (its size from the negotiated features) and, with --vnet-hdr, \
            kept in a JSON Lines side file. A trace of the same run (the TRACE argument, or --trace) \
            dates completed frames by their virtqueue_fill; the others get the dump's modification \
            time. See docs/pcap.md.
            """
    )

    @Argument(
        help: "A run directory of `vqscope record` (every frame of the run), or a QEMU trace of the dump's run (the frames' completion times, virtio-mmio queues).")
    var traceArgument: String?

    @OptionGroup var location: DumpLocation

    @Option(name: [.customShort("o"), .customLong("output")], help: "The pcap file to write (LINKTYPE_ETHERNET, microseconds).")
    var output: String

    @Option(name: .customLong("vnet-hdr"), help: "Also write each frame's queue, direction and virtio_net_hdr to this JSON Lines file.")
    var vnetHeader: String?

    @Option(name: .customLong("fail-on"), help: "Exit 1 when a finding is at least this severe: note, warning, error or never.")
    var failOn: FailLevel = .error

    /// The argument names a run directory of `vqscope record`.
    var runDirectory: String? {
        guard let argument = self.traceArgument, access(argument + "/rings.jsonl", F_OK) == 0 else { return nil }
        return argument
    }

    func validate() throws {
        if self.runDirectory != nil {
            guard self.location.dump == nil, self.location.qmp == nil, self.location.queues.isEmpty else {
                throw ValidationError("a run directory holds its frames: give it alone, without --dump, --qmp or --queue")
            }
            return
        }
        guard self.location.dump != nil else {
            throw ValidationError("give a run directory of `vqscope record`, or --dump: a trace holds no frame bytes")
        }
        if self.traceArgument != nil, self.location.trace != nil {
            throw ValidationError("give the trace once: as the argument or with --trace")
        }
        try self.location.requireQueues(trace: self.traceArgument)
    }

    func run() throws {
        if let run = self.runDirectory {
            let result = Self.execute(run: run, output: self.output, vnetHeader: self.vnetHeader)
            if !result.output.isEmpty { print(result.output, terminator: "") }
            if !result.diagnostics.isEmpty { Analyze.printError(result.diagnostics) }
            if result.code != Exit.clean { throw ExitCode(result.code) }
            return
        }
        var location = self.location
        location.trace = location.trace ?? self.traceArgument
        let result = Self.execute(
            location: location, output: self.output, vnetHeader: self.vnetHeader, failOn: self.failOn,
            color: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
        if !result.output.isEmpty { print(result.output, terminator: "") }
        if !result.diagnostics.isEmpty { Analyze.printError(result.diagnostics) }
        if result.code != Exit.clean { throw ExitCode(result.code) }
    }

    /// The whole export as a function of its inputs, so tests can run it in process.
    static func execute(
        location: DumpLocation, output: String, vnetHeader: String?, failOn: FailLevel, color: Bool = false
    ) -> (output: String, diagnostics: String, code: Int32) {
        guard let dump = location.dump else { return ("", "vqscope: give --dump", Exit.usage) }
        let located: Inspect.Located
        switch Inspect.locate(
            dump: dump, base: location.base?.value, qmp: location.qmp, trace: location.trace,
            queues: location.targets, options: location.options)
        {
        case .success(let found): located = found
        case .failure(let failure): return ("", failure.message, failure.code)
        }
        let writer: PcapWriter
        do {
            writer = try PcapWriter(path: output)
        } catch {
            return ("", "vqscope: \(error)", Exit.missingInput)
        }
        let dumpTime = Self.modificationTime(of: dump)
        var side: UnsafeMutablePointer<FILE>?
        if let vnetHeader {
            guard let file = fopen(vnetHeader, "w") else {
                return ("", "vqscope: \(vnetHeader): cannot create: \(String(cString: strerror(errno)))", Exit.missingInput)
            }
            side = file
            fputs(
                FrameReporter.header(
                    dump: dump, trace: location.trace, dumpTime: Self.describe(dumpTime), toolVersion: VQScope.version),
                file)
        }
        var counts: [NetFrame.Direction: Int] = [:]
        let queues = Dictionary(
            located.report.queues.map { ("\($0.device ?? "")#\($0.queue)", $0) }, uniquingKeysWith: { first, _ in first })
        let (findings, unreadable) = NetFrames.extract(from: located.report, memory: located.memory) { frame in
            var source = FrameReporter.TimeSource.dump
            var time = dumpTime
            if let used = frame.usedIndex, let trace = located.trace, let queue = queues["\(frame.device ?? "")#\(frame.queue)"],
                let filled = trace.completionTime(of: used, in: queue)
            {
                time = PcapTimestamp(nanoseconds: filled.nanoseconds)
                source = .trace
            }
            writer.write(frame.bytes, at: time)
            counts[frame.direction, default: 0] += 1
            if let side { fputs(FrameReporter.line(frame, number: writer.framesWritten, time: source), side) }
        }
        var failures: [String] = []
        do {
            try writer.close()
        } catch {
            failures.append("vqscope: \(error)")
        }
        if let side, fclose(side) != 0 { failures.append("vqscope: \(vnetHeader ?? ""): cannot write") }
        guard failures.isEmpty else { return ("", failures.joined(separator: "\n"), Exit.missingInput) }
        let netQueues = located.report.queues.filter { $0.deviceType == .network }.count
        var text = "vqscope: \(writer.framesWritten) frame(s) to \(output): \(counts[.transmit] ?? 0) transmitted, "
            + "\(counts[.receive] ?? 0) received, from \(netQueues) net queue(s) of \(dump)\n"
        if unreadable > 0 {
            text += "\(unreadable) completed buffer(s) not exported: reused since, one snapshot cannot see their frames\n"
        }
        text += TextReporter.findingsSection(findings, total: findings.count, omitted: 0, color: color)
        var code = Exit.clean
        if let threshold = failOn.threshold, let highest = findings.map(\.severity).max(), highest >= threshold {
            code = Exit.findings
        }
        let notes = located.notes + (netQueues == 0 ? ["vqscope: \(dump): no virtio-net queue found"] : [])
        return (text, notes.joined(separator: "\n"), code)
    }

    /// Every frame of a recorded run, in the order the recorder saw them.
    static func execute(run: String, output: String, vnetHeader: String?) -> (output: String, diagnostics: String, code: Int32) {
        let writer: PcapWriter
        do {
            writer = try PcapWriter(path: output)
        } catch {
            return ("", "vqscope: \(error)", Exit.missingInput)
        }
        var side: UnsafeMutablePointer<FILE>?
        if let vnetHeader {
            guard let file = fopen(vnetHeader, "w") else {
                return ("", "vqscope: \(vnetHeader): cannot create: \(String(cString: strerror(errno)))", Exit.missingInput)
            }
            side = file
            fputs(FrameReporter.header(run: run, toolVersion: VQScope.version), file)
        }
        var counts: [NetFrame.Direction: Int] = [:]
        let problems: [String]
        let cutOffLine: Int?
        do {
            // Frames copied while their buffer was offered again: those the run's trace shows whole.
            let whole = try RecordedRun.wholeCopies(directory: run) {
                try? Analyze.analyze(trace: RecordedRun.trace(in: run), options: AnalysisOptions()).get()
            }
            (problems, cutOffLine) = try RecordedFrames.read(path: run + "/rings.jsonl", whole: whole) { frame, time in
                writer.write(frame.bytes, at: PcapTimestamp(nanoseconds: time))
                counts[frame.direction, default: 0] += 1
                if let side { fputs(FrameReporter.line(frame, number: writer.framesWritten, time: .ring), side) }
            }
        } catch {
            return ("", "vqscope: \(error)", Exit.missingInput)
        }
        var failures: [String] = []
        do { try writer.close() } catch { failures.append("vqscope: \(error)") }
        if let side, fclose(side) != 0 { failures.append("vqscope: \(vnetHeader ?? ""): cannot write") }
        guard failures.isEmpty else { return ("", failures.joined(separator: "\n"), Exit.missingInput) }
        let text = "vqscope: \(writer.framesWritten) frame(s) to \(output): \(counts[.transmit] ?? 0) transmitted, "
            + "\(counts[.receive] ?? 0) received, recorded in \(run)\n"
            + (cutOffLine.map { "vqscope: \(run)/rings.jsonl ends inside line \($0) (the recorder did not end normally): not read\n" } ?? "")
        return (text, problems.prefix(20).joined(separator: "\n"), problems.isEmpty ? Exit.clean : Exit.undecodable)
    }

    /// The file's modification time: when `dump-guest-memory` finished writing it.
    static func modificationTime(of path: String) -> PcapTimestamp {
        var info = stat()
        guard stat(path, &info) == 0 else { return PcapTimestamp(seconds: 0, microseconds: 0) }
        return PcapTimestamp(seconds: info.st_mtim.tv_sec, microseconds: info.st_mtim.tv_nsec / 1_000)
    }

    /// `2026-11-26T12:34:56.123456Z`.
    static func describe(_ time: PcapTimestamp) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let micro = String(time.microseconds)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(String(repeating: "0", count: max(0, 6 - micro.count)) + micro)Z"
    }
}
