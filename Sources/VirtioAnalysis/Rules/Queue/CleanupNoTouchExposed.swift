/// The driver leaves the descriptors of a chain it has exposed alone until the device
/// returns it: rewriting them while the device owns the chain changes a request under the
/// device's feet (the spec's cleanup section states it for removing buffers; it holds on a
/// live queue at any time).
///
/// Spec: virtio v1.2 §3.3.1 (1.1: §3.3.1), "the driver MUST NOT alter descriptor table
/// entries which have been exposed in the available ring (and not marked consumed by the
/// device in the used ring) of a live virtqueue".
enum CleanupNoTouchExposed {
    static let info = RuleInfo(
        id: "CLEANUP-NO-TOUCH-EXPOSED", severity: .error, section: "3.3.1", section11: nil,
        summary: "the driver does not alter the descriptors of a chain the device owns",
        party: .driver, evidence: "a recording: a chain walked again while outstanding differs from its walk when offered")
}
