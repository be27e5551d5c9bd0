import ArgumentParser
import FoundationEssentials
import VirtioAnalysis
import VirtioModel
import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

/// How a report is written: on standard output (`--format`) or to a file (`--report`).
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
    case junit
    case sarif
}

/// `--report FORMAT=PATH`: a report written to a file besides the one on standard output.
struct ReportDestination: ExpressibleByArgument, Equatable {
    var format: ReportFormat
    var path: String

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let format = ReportFormat(rawValue: parts[0]), !parts[1].isEmpty else { return nil }
        self.format = format
        self.path = parts[1]
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// `--severity RULE=LEVEL`.
struct SeverityOverride: ExpressibleByArgument {
    var rule: String
    var severity: Severity

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let severity = Severity(name: parts[1]) else { return nil }
        self.rule = parts[0]
        self.severity = severity
    }
}

/// `--disable`, `--enable`, `--severity`: which rules report, and how severely.
struct SelectionOptions: ParsableArguments {
    @Option(name: .customLong("disable"), help: "Do not report this rule, or `all` (repeatable).")
    var disabled: [String] = []

    @Option(name: .customLong("enable"), help: "Report this rule even after --disable all (repeatable).")
    var enabled: [String] = []

    @Option(
        name: .customLong("severity"),
        help: ArgumentHelp("Report a rule at another severity: RULE=note|warning|error (repeatable).", valueName: "rule=level"))
    var severities: [SeverityOverride] = []

    func validate() throws {
        if let unknown = self.selection.unknownRule {
            throw ValidationError("unknown rule \(unknown) (`vqscope rules` lists them)")
        }
    }

    var selection: RuleSelection {
        var selection = RuleSelection()
        selection.disableAll = self.disabled.contains("all")
        selection.disabled = Set(self.disabled.filter { $0 != "all" })
        selection.enabled = Set(self.enabled)
        for override in self.severities { selection.severities[override.rule] = override.severity }
        return selection
    }
}

/// What CI needs from `analyze` and `inspect`: reports in several formats, rule selection,
/// severities and a baseline (docs/ci.md).
struct GatingOptions: ParsableArguments {
    @OptionGroup var rules: SelectionOptions

    @Option(
        name: .customLong("report"),
        help: ArgumentHelp("Also write a report to a file: FORMAT=PATH, FORMAT text, json, junit or sarif (repeatable).", valueName: "format=path"))
    var reports: [ReportDestination] = []

    @Option(help: "A baseline from `vqscope baseline`: its findings are suppressed and counted, only new ones reported.")
    var baseline: String?

    /// The parsed options as the commands' `execute` functions take them.
    var gating: Gating { Gating(selection: self.rules.selection, baselinePath: self.baseline, reports: self.reports) }
}

/// Rule selection, baseline and report files, applied to a finished report.
struct Gating {
    var selection = RuleSelection()
    var baselinePath: String?
    var reports: [ReportDestination] = []

    /// Applies the selection and the baseline; returns how many findings the baseline
    /// suppressed, or why it could not be read.
    func apply<Report: FindingSet>(to report: inout Report, deviceTypes: [String: String]) -> Result<Int, CommandFailure> {
        self.selection.apply(to: &report)
        guard let path = self.baselinePath else { return .success(0) }
        switch BaselineFile.read(path) {
        case .success(let baseline): return .success(baseline.apply(to: &report, deviceTypes: deviceTypes))
        case .failure(let failure): return .failure(failure)
        }
    }

    /// The command's result: the report on standard output in `format` (the text with colour
    /// when `color`), every `--report` file, and exit 1 when a finding reaches `failOn`.
    func finish<Report: FindingSet>(
        _ report: Report, input: String, format: ReportFormat, failOn: FailLevel, color: Bool, notes: [String],
        text: (_ color: Bool) -> String, json: () -> String
    ) -> (output: String, diagnostics: String, code: Int32) {
        func render(_ format: ReportFormat) -> String {
            switch format {
            case .text: text(false)
            case .json: json()
            case .junit: JUnitReporter.render(report.findings, input: input, failOn: failOn.threshold)
            case .sarif: SARIFReporter.render(report.findings, toolVersion: VQScope.version)
            }
        }
        if let failure = self.writeReports(render) { return ("", failure.message, failure.code) }
        let output = format == .text ? text(color) : render(format)
        var code = Exit.clean
        if let threshold = failOn.threshold, let highest = report.findings.map(\.severity).max(), highest >= threshold {
            code = Exit.findings
        }
        return (output, notes.joined(separator: "\n"), code)
    }

    /// Writes each `--report` file with `render`; a file that cannot be written is a failure (66).
    func writeReports(_ render: (ReportFormat) -> String) -> CommandFailure? {
        for destination in self.reports {
            guard let file = fopen(destination.path, "w") else {
                return CommandFailure(
                    message: "vqscope: \(destination.path): cannot create the report: \(String(cString: strerror(errno)))",
                    code: Exit.missingInput)
            }
            let text = render(destination.format)
            let written = fputs(text, file) >= 0
            guard fclose(file) == 0, written else {
                return CommandFailure(message: "vqscope: \(destination.path): cannot write the report", code: Exit.missingInput)
            }
        }
        return nil
    }
}

/// Reads a baseline file (`vqscope.baseline` version 1).
enum BaselineFile {
    struct Entry: Decodable {
        var rule: String
        var device: String?
        var queue: Int?
        var fingerprint: String
        var count: Int
        var example: String?
    }

    struct File: Decodable {
        var schema: String
        var version: Int
        var findings: [Entry]
    }

    static func read(_ path: String) -> Result<Baseline, CommandFailure> {
        guard let file = fopen(path, "r") else {
            return .failure(CommandFailure(message: "vqscope: \(path): cannot open the baseline", code: Exit.missingInput))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= 64 << 20 {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        guard bytes.count <= 64 << 20,
            let decoded = try? JSONDecoder().decode(File.self, from: Data(bytes)),
            decoded.schema == BaselineReporter.schema, decoded.version == BaselineReporter.schemaVersion
        else {
            return .failure(
                CommandFailure(
                    message: "vqscope: \(path): not a vqscope baseline (schema \(BaselineReporter.schema) version "
                        + "\(BaselineReporter.schemaVersion), at most 64 MiB; `vqscope baseline` writes one)",
                    code: Exit.undecodable))
        }
        var baseline = Baseline()
        for entry in decoded.findings where entry.count > 0 {
            let key = Baseline.Key(rule: entry.rule, device: entry.device, queue: entry.queue, fingerprint: entry.fingerprint)
            baseline.counts[key, default: 0] += entry.count
            baseline.examples[key] = entry.example
        }
        return .success(baseline)
    }
}

extension AnalysisReport {
    /// The device type of each label the findings may name: the trace's devices, and the
    /// queues of a joined dump.
    func deviceTypes(with inspection: InspectionReport?) -> [String: String] {
        var types: [String: String] = [:]
        for device in self.devices { if let type = device.type { types[device.label] = type.shortName } }
        for queue in inspection?.queues ?? [] {
            if let device = queue.device, let type = queue.deviceType { types[device] = type.shortName }
        }
        return types
    }
}

extension InspectionReport {
    /// The device type of each queue's device label.
    var deviceTypes: [String: String] {
        var types: [String: String] = [:]
        for queue in self.queues { if let device = queue.device, let type = queue.deviceType { types[device] = type.shortName } }
        return types
    }
}
