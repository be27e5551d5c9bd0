import GuestMemory
import VirtioModel

/// The used ring (written by the device) does not overlap the descriptor table or the
/// available ring (written by the driver). Derived from the split ring layout, where each part
/// is written by one side only; a warning.
///
/// Spec: virtio v1.2 §2.7 (1.1: §2.6).
struct RingsDoNotOverlap: SnapshotRule {
    static let info = RuleInfo(
        id: "SPLIT-NO-OVERLAP", severity: .warning, section: "2.7", section11: "2.6",
        summary: "the used ring does not overlap the descriptor table or the available ring",
        party: .driver, evidence: "the ring addresses and queue size of a queue in a dump or a recording")

    static func check(_ queue: QueueSnapshotContext) -> [String] { Self.judge(queue.addresses) }

    /// The driver's parts of a split queue at `addresses` that the used ring overlaps (a
    /// dump's, a recording's).
    static func judge(_ addresses: QueueAddresses) -> [String] {
        let layout = SplitRingLayout(queueSize: Int(addresses.size))
        let used = (addresses.deviceArea, UInt64(layout.usedRingSize))
        let driverParts: [(String, UInt64, UInt64)] = [
            ("descriptor table", addresses.descriptorArea, UInt64(layout.descriptorTableSize)),
            ("available ring", addresses.driverArea, UInt64(layout.availRingSize)),
        ]
        return driverParts.filter { Self.overlap(($0.1, $0.2), used) }.map {
            "the used ring at 0x\(String(used.0, radix: 16)) overlaps the \($0.0) at 0x\(String($0.1, radix: 16))"
        }
    }

    /// Whether two ranges share a byte; ranges that wrap the address space count as overlapping everything.
    static func overlap(_ a: (UInt64, UInt64), _ b: (UInt64, UInt64)) -> Bool {
        let (aEnd, aOverflow) = a.0.addingReportingOverflow(a.1)
        let (bEnd, bOverflow) = b.0.addingReportingOverflow(b.1)
        if aOverflow || bOverflow { return true }
        return a.0 < bEnd && b.0 < aEnd
    }
}
