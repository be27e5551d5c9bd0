/// A report's findings with their counts: the part CI gating changes (rule selection,
/// severities, baselines), shared by `analyze` and `inspect` reports.
public protocol FindingSet {
    /// The findings kept in full.
    var findings: [Finding] { get set }
    /// Findings counted per rule ID, kept or not.
    var findingCounts: [String: Int] { get set }
    var totalFindings: Int { get set }
    /// Findings counted but not kept.
    var omittedFindings: Int { get set }
    /// Findings a baseline accepted and took out.
    var suppressedByBaseline: Int { get set }
}

extension AnalysisReport: FindingSet {}
extension InspectionReport: FindingSet {}

extension FindingSet {
    /// Keeps the findings `keep` accepts (changed as it returns them), with the counts of
    /// the rules it drops entirely taken out.
    mutating func refine(dropping droppedRules: Set<String>, _ keep: (Finding) -> Finding?) -> Int {
        let before = self.findings.count
        self.findings = self.findings.compactMap(keep)
        var removedCounted = 0
        for rule in droppedRules {
            removedCounted += self.findingCounts.removeValue(forKey: rule) ?? 0
        }
        self.totalFindings -= removedCounted
        self.omittedFindings = max(0, self.totalFindings - self.findings.count)
        return before - self.findings.count
    }
}
