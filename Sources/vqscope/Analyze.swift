import ArgumentParser
import GuestMemory
import LiveCapture
import TraceSources
import VirtioAnalysis
import VirtioModel
import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// The lowest severity that fails the run, or `never`.
enum FailLevel: String, ExpressibleByArgument, CaseIterable {
    case note
    case warning
    case error
    case never

    var threshold: Severity? {
        switch self {
        case .note: return .note
        case .warning: return .warning
        case .error: return .error
        case .never: return nil
        }
    }
}

enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto
    case always
    case never
}

/// `--device 0x55d0c8e1e600=net`: the user says what a device is.
struct DeviceAssignment: ExpressibleByArgument {
    var vdev: HostPointer
    var type: DeviceType

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let type = DeviceType(name: parts[1]) else { return nil }
        let pointer = parts[0].lowercased().hasPrefix("0x") ? String(parts[0].dropFirst(2)) : parts[0]
        guard let vdev = UInt64(pointer, radix: 16) else { return nil }
        self.vdev = vdev
        self.type = type
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// `--device net`: a device type by its short name or decimal device ID.
struct DeviceTypeArgument: ExpressibleByArgument {
    var type: DeviceType

    init?(argument: String) {
        guard let type = DeviceType(name: argument) else { return nil }
        self.type = type
    }
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Replay a QEMU `log`-backend trace through the verifying driver model.",
        discussion: """
            TRACE is a text log from QEMU's log trace backend (-trace ... -D FILE), plain or \
            xz-compressed, or - for standard input. Enable at least the events virtio_* and \
            virtqueue_*; add -msg timestamp=on for latencies.
            """
    )

    @OptionGroup var input: TraceInput

    @Option(help: "Output format: text, json, junit or sarif.")
    var format: ReportFormat = .text

    @Option(name: .customLong("fail-on"), help: "Exit 1 when a finding is at least this severe: note, warning, error or never.")
    var failOn: FailLevel = .error

    @Option(help: "Colour in the text report: auto (on a terminal, unless NO_COLOR is set), always or never.")
    var color: ColorChoice = .auto

    @OptionGroup var gating: GatingOptions

    func run() throws {
        let result = Self.execute(
            trace: self.input.trace, format: self.format, failOn: self.failOn, devices: self.input.devices,
            memory: self.input.memory, traceEvents: self.input.traceEvents, gating: self.gating.gating, color: self.useColor())
        if !result.output.isEmpty { print(result.output, terminator: "") }
        if !result.diagnostics.isEmpty { Self.printError(result.diagnostics) }
        if result.code != Exit.clean { throw ExitCode(result.code) }
    }

    private func useColor() -> Bool {
        switch self.color {
        case .always: return true
        case .never: return false
        case .auto: return isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
        }
    }

    static func printError(_ text: String) {
        var standardError = StandardError()
        print(text, to: &standardError)
    }

    /// The trace analysed, and joined with the dump's inspection when a dump is given.
    static func report(
        trace: String, devices: [DeviceAssignment], memory input: MemoryInput?, traceEvents: String? = nil
    ) -> Result<(AnalysisReport, InspectionReport?, [String]), CommandFailure> {
        var options = AnalysisOptions()
        for assignment in devices { options.deviceTypes[assignment.vdev] = assignment.type }
        var declarations: TraceEventsFile?
        if let traceEvents {
            do {
                declarations = try TraceEventsFile(path: traceEvents)
            } catch {
                return .failure(CommandFailure(message: "vqscope: \(error)", code: Exit.missingInput))
            }
        }
        var report: AnalysisReport
        // A run directory of `vqscope record`: its trace, and its rings replayed.
        let run = RecordedRun.isRun(trace) ? trace : nil
        switch Self.analyze(trace: run.map(RecordedRun.trace(in:)) ?? trace, options: options, declarations: declarations) {
        case .success(let analysis): report = analysis
        case .failure(let failure): return .failure(failure)
        }
        if let run {
            do {
                let problems = try RecordedRun.join(directory: run, into: &report)
                if !problems.isEmpty {
                    return .failure(CommandFailure(message: "vqscope: " + problems.prefix(5).joined(separator: "\n"), code: Exit.undecodable))
                }
            } catch {
                return .failure(CommandFailure(message: "vqscope: \(error)", code: Exit.missingInput))
            }
        }
        guard let input else { return .success((report, nil, [])) }
        switch input.inspect(with: report) {
        case .success(let result):
            report.join(result.report)
            return .success((report, result.report, result.notes))
        case .failure(let failure): return .failure(failure)
        }
    }

    /// The whole analysis as a function of its inputs, so tests can run it in process.
    static func execute(
        trace: String, format: ReportFormat, failOn: FailLevel, devices: [DeviceAssignment] = [],
        memory input: MemoryInput? = nil, traceEvents: String? = nil, gating: Gating = Gating(), color: Bool = false
    ) -> (output: String, diagnostics: String, code: Int32) {
        var report: AnalysisReport
        let inspection: InspectionReport?
        let notes: [String]
        switch Self.report(trace: trace, devices: devices, memory: input, traceEvents: traceEvents) {
        case .success(let result): (report, inspection, notes) = result
        case .failure(let failure): return ("", failure.message, failure.code)
        }
        if case .failure(let failure) = gating.apply(to: &report, deviceTypes: report.deviceTypes(with: inspection)) {
            return ("", failure.message, failure.code)
        }
        let analyzed = report
        return gating.finish(
            analyzed, input: trace, format: format, failOn: failOn, color: color, notes: notes,
            text: { TextReporter.render(analyzed, memory: inspection, color: $0) },
            json: { JSONReporter.render(analyzed, memory: inspection, toolVersion: VQScope.version) })
    }
}

/// The trace (or run directory) `analyze` and `baseline` read, what the user says about its
/// devices, and a dump of the same run.
struct TraceInput: ParsableArguments {
    @Argument(help: "The trace file (plain or .xz), - for standard input, or a run directory of `vqscope record`.")
    var trace: String

    @Option(
        name: .customLong("device"),
        help: ArgumentHelp("Say what a device is: POINTER=TYPE, e.g. 0x55d0c8e1e600=net (repeatable).", valueName: "vdev=type"))
    var devices: [DeviceAssignment] = []

    @Option(help: "A guest memory dump of the same run (ELF core, or raw with --base): its queues are checked and joined with the trace.")
    var dump: String?

    @Option(help: "The guest-physical address of a raw dump's first byte.")
    var base: Address?

    @Option(help: "Saved QMP replies locating the dump's queues (otherwise the trace's virtio-mmio writes do).")
    var qmp: String?

    @Option(
        name: .customLong("trace-events"),
        help: "A QEMU build's trace-events(-all) file: a simple trace's events read as that build declares them.")
    var traceEvents: String?

    func validate() throws {
        if self.dump == nil, self.base != nil || self.qmp != nil {
            throw ValidationError("--base and --qmp go with --dump")
        }
    }

    var memory: MemoryInput? { self.dump.map { MemoryInput(dump: $0, base: self.base?.value, qmp: self.qmp) } }
}

/// `analyze --dump`: a dump of the same run, and where its queues are described.
struct MemoryInput {
    var dump: String
    var base: UInt64? = nil
    var qmp: String? = nil

    /// Reads the dump's queues (from QMP, else from the trace's virtio-mmio writes).
    func inspect(with trace: AnalysisReport) -> Result<(report: InspectionReport, notes: [String]), CommandFailure> {
        do {
            let found =
                try self.qmp.map { path throws(MemoryError) in try QueueDiscovery.fromQMP(path, flags: Inspector.Options()) }
                ?? QueueDiscovery.fromTrace(trace, flags: Inspector.Options())
            let memory = try GuestMemoryDump.open(path: self.dump, base: self.base)
            return .success((Inspector.inspect(memory: memory, dump: self.dump, queues: found.targets, trace: trace), found.notes))
        } catch {
            return .failure(CommandFailure(error))
        }
    }
}

/// Why a command could not produce a report: the message for standard error and the exit code.
struct CommandFailure: Error {
    var message: String
    var code: Int32

    init(message: String, code: Int32) {
        self.message = message
        self.code = code
    }

    /// A dump or QMP file that is missing or unreadable (66), or not readable as one (65).
    init(_ error: MemoryError) {
        switch error {
        case .missing, .unreadable: self.init(message: "vqscope: \(error)", code: Exit.missingInput)
        default: self.init(message: "vqscope: \(error)", code: Exit.undecodable)
        }
    }
}

extension Analyze {
    /// Reads a trace and runs it through the verifying model.
    static func analyze(
        trace: String, options: AnalysisOptions, declarations: TraceEventsFile? = nil
    ) -> Result<AnalysisReport, CommandFailure> {
        do {
            let reader = try ConcurrentTraceReader(path: trace, declarations: declarations)
            var analyzer = Analyzer(file: trace == "-" ? "<stdin>" : trace, options: options)
            while try reader.withNextBatch({ analyzer.consume($0) }) {}
            let statistics = reader.statistics
            if statistics.virtioEvents == 0 {
                let why: String
                if statistics.lines == 0 {
                    why = "the file is empty"
                } else {
                    why = "none of its \(statistics.lines) lines is a QEMU virtio trace event (enable them with -trace 'virtio_*' -trace 'virtqueue_*')"
                }
                return .failure(CommandFailure(message: "vqscope: \(trace): no virtio trace events: \(why)", code: Exit.undecodable))
            }
            return .success(analyzer.finish(statistics: statistics))
        } catch {
            switch error {
            case .missing, .unreadable: return .failure(CommandFailure(message: "vqscope: \(error)", code: Exit.missingInput))
            case .undecodable: return .failure(CommandFailure(message: "vqscope: \(error)", code: Exit.undecodable))
            }
        }
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}
