import GuestMemory
import TraceSources
import VirtioModel

extension AnalysisReport {
    /// Adds what a dump of the same run showed: the inspection's findings, and where a queue
    /// of the dump pairs with one of the trace, DUMP-TRACE-MISMATCH when they disagree.
    /// (`vqscope analyze TRACE --dump DUMP`.)
    public mutating func join(_ inspection: InspectionReport) {
        let mismatches = DumpTraceMismatch.findings(analysis: self, inspection: inspection)
        self.findings += inspection.findings + mismatches
        for (rule, count) in inspection.findingCounts { self.findingCounts[rule, default: 0] += count }
        if !mismatches.isEmpty { self.findingCounts[DumpTraceMismatch.info.id, default: 0] += mismatches.count }
        self.totalFindings += inspection.totalFindings + mismatches.count
        self.omittedFindings += inspection.omittedFindings
    }

    /// When this trace shows the device filling the element at `usedIndex` of a queue of a
    /// dump of the same moment, if it is among the trace's last fills.
    public func completionTime(of usedIndex: UInt16, in queue: QueueInspection) -> Timestamp? {
        DumpTraceMismatch.completionTime(of: usedIndex, in: queue, analysis: self)
    }
}
