import VirtioModel

/// The used ring's `flags` hold 0 or 1 (VIRTQ_USED_F_NO_NOTIFY), and 0 once
/// VIRTIO_F_EVENT_IDX is negotiated (the device's `avail_event` then says when to notify).
///
/// Spec: virtio v1.2 §2.7.10.2 "If the VIRTIO_F_EVENT_IDX feature bit is not negotiated: The
/// device MUST set flags to 0 or 1 … Otherwise … The device MUST set flags to 0" (1.1: §2.6.10.2).
struct UsedFlagsValue: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-USED-FLAGS-VALUE", severity: .error, section: "2.7.10.2", section11: "2.6.10.2",
        summary: "used.flags is 0 or 1 (VIRTQ_USED_F_NO_NOTIFY), and 0 with EVENT_IDX",
        party: .device, evidence: "the used ring's flags of a split queue in a dump or a recording")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.usedFlags.flatMap { Self.judge($0, eventIndex: queue.eventIndex) }.map { [$0] } ?? []
    }

    /// What is wrong with `flags` (nil: nothing); `eventIndex` nil when not known. A recording
    /// judges the word with this as it reads it.
    static func judge(_ flags: UsedFlags, eventIndex: Bool?) -> String? {
        flags.problem("used.flags", bit: "VIRTQ_USED_F_NO_NOTIFY", eventIndex: eventIndex)
    }
}
