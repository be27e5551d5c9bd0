/// The driver never moves avail.idx back: a buffer once made available cannot be taken back.
///
/// Spec: virtio v1.2 §2.7.6.1 (1.1: §2.6.6.1) "A driver MUST NOT decrement the available idx on
/// a virtqueue (ie. there is no way to “unexpose” buffers)."
enum AvailIndexNoDecrease {
    static let info = RuleInfo(
        id: "SPLIT-AVAIL-IDX-NO-DECREASE", severity: .error, section: "2.7.6.1", section11: "2.6.6.1",
        summary: "avail.idx never goes back (recordings)",
        party: .driver, evidence: "a recording's suspended line: avail.idx behind the entries read, with no reset of the device after it")
}
