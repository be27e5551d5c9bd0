import ArgumentParser
import VirtioAnalysis
import VirtioReporting

/// `vqscope baseline TRACE > vqscope-baseline.json`: today's findings, accepted, for
/// `--baseline` to suppress in later runs.
struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Record a trace's findings as a baseline: later runs with --baseline report only new ones.",
        discussion: """
            Findings are keyed by rule, device type, queue and a fingerprint of the message \
            with its numbers taken out, so the baseline survives re-captures (host pointers, \
            line numbers and timestamps change). The file is JSON, schema vqscope.baseline \
            version 1 (docs/ci.md). --disable and --severity apply first, as they will in the \
            runs that use the baseline.
            """
    )

    @OptionGroup var input: TraceInput

    @OptionGroup var rules: SelectionOptions

    func run() throws {
        let result = Self.execute(
            trace: self.input.trace, devices: self.input.devices, memory: self.input.memory, traceEvents: self.input.traceEvents,
            selection: self.rules.selection)
        if !result.output.isEmpty { print(result.output, terminator: "") }
        if !result.diagnostics.isEmpty { Analyze.printError(result.diagnostics) }
        if result.code != Exit.clean { throw ExitCode(result.code) }
    }

    static func execute(
        trace: String, devices: [DeviceAssignment] = [], memory: MemoryInput? = nil, traceEvents: String? = nil,
        selection: RuleSelection = RuleSelection()
    ) -> (output: String, diagnostics: String, code: Int32) {
        switch Analyze.report(trace: trace, devices: devices, memory: memory, traceEvents: traceEvents) {
        case .success(let (analysed, inspection, notes)):
            var report = analysed
            selection.apply(to: &report)
            let baseline = Baseline(findings: report.findings, deviceTypes: report.deviceTypes(with: inspection))
            var diagnostics = notes
            if report.omittedFindings > 0 {
                diagnostics.append(
                    "vqscope: \(report.omittedFindings) findings past the per-rule limit are not in the baseline; "
                        + "they will count as new")
            }
            return (
                BaselineReporter.render(baseline, input: trace, toolVersion: VQScope.version), diagnostics.joined(separator: "\n"),
                Exit.clean
            )
        case .failure(let failure): return ("", failure.message, failure.code)
        }
    }
}
