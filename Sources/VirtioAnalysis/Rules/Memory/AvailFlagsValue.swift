import VirtioModel

/// The available ring's `flags` hold 0 or 1 (VIRTQ_AVAIL_F_NO_INTERRUPT), and 0 once
/// VIRTIO_F_EVENT_IDX is negotiated (the driver's `used_event` then says when to interrupt).
///
/// Spec: virtio v1.2 §2.7.7.1 "If the VIRTIO_F_EVENT_IDX feature bit is not negotiated: The
/// driver MUST set flags to 0 or 1 … Otherwise … The driver MUST set flags to 0" (1.1: §2.6.7.1).
struct AvailFlagsValue: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-AVAIL-FLAGS-VALUE", severity: .error, section: "2.7.7.1", section11: "2.6.7.1",
        summary: "avail.flags is 0 or 1 (VIRTQ_AVAIL_F_NO_INTERRUPT), and 0 with EVENT_IDX",
        party: .driver, evidence: "the available ring's flags of a split queue in a dump or a recording")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.availFlags.flatMap { Self.judge($0, eventIndex: queue.eventIndex) }.map { [$0] } ?? []
    }

    /// What is wrong with `flags` (nil: nothing); `eventIndex` nil when not known. A recording
    /// judges the word with this as it reads it.
    static func judge(_ flags: AvailFlags, eventIndex: Bool?) -> String? {
        flags.problem("avail.flags", bit: "VIRTQ_AVAIL_F_NO_INTERRUPT", eventIndex: eventIndex)
    }
}
