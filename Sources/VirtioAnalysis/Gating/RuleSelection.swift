/// Which rules report and how severely: `--disable RULE|all`, `--enable RULE` (after the
/// disables) and `--severity RULE=LEVEL`.
public struct RuleSelection: Sendable, Equatable {
    public var disabled: Set<String> = []
    public var disableAll = false
    public var enabled: Set<String> = []
    public var severities: [String: Severity] = [:]

    public init() {}

    /// An ID that is not in the catalogue, if any was named.
    public var unknownRule: String? {
        (self.disabled.union(self.enabled).union(self.severities.keys)).sorted().first { RuleCatalog.rule(id: $0) == nil }
    }

    public func isEnabled(_ rule: String) -> Bool {
        self.enabled.contains(rule) || !(self.disableAll || self.disabled.contains(rule))
    }

    /// The report with the disabled rules' findings removed (their counts too) and the
    /// overridden severities applied.
    public func apply<Report: FindingSet>(to report: inout Report) {
        let dropped = Set(report.findingCounts.keys.filter { !self.isEnabled($0) })
        _ = report.refine(dropping: dropped) { finding in
            guard self.isEnabled(finding.rule.id) else { return nil }
            var changed = finding
            if let severity = self.severities[finding.rule.id] { changed.severity = severity }
            return changed
        }
    }
}
