/// The driver leaves a list alone from the moment it makes it available until the device has
/// used it: rewriting its ring descriptors or its indirect table changes a request under the
/// device's feet. Judged on recordings: a list the device still owns, walked again, differs
/// from its walk when offered.
///
/// Spec: virtio v1.2 §2.8.16 (1.1: §2.7.16), "A driver MUST NOT change a descriptor unless it
/// observes the VIRTQ_DESC_F_USED bit in its flags being changed. A driver MUST NOT change a
/// descriptor after changing the VIRTQ_DESC_F_AVAIL bit in its flags."
enum PackedDriverNoRewrite {
    static let info = RuleInfo(
        id: "PACKED-DRV-NO-REWRITE", severity: .error, section: "2.8.16", section11: "2.7.16",
        summary: "the driver does not change a packed list, or its indirect table, while the device owns it",
        party: .driver,
        evidence: "a recording: a list walked again while outstanding, its slots still available in their lap, differs from its walk when offered for 100 ms")
}
