import VirtioModel

/// Two or more initialization steps were taken in one status write (for example
/// ACKNOWLEDGE and DRIVER together). The order is kept, so this is reported apart from
/// ``InitSequence`` and at a lower severity; devices accept it in practice.
///
/// Spec: virtio v1.2 §3.1.1 lists "Set the ACKNOWLEDGE status bit" and "Set the DRIVER status
/// bit" as separate steps.
struct InitSequenceMergedSteps: StatusRule {
    static let info = RuleInfo(
        id: "INIT-SEQUENCE-MERGED-STEPS", severity: .warning, section: "3.1.1",
        summary: "each initialization step sets its own status bit in its own write",
        party: .driver, evidence: "virtio_set_status values")

    static let steps: [DeviceStatus] = [.acknowledge, .driver, .featuresOK, .driverOK]
    static let stepBits = Self.steps.reduce(UInt8(0)) { $0 | $1.rawValue }

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, change.new.rawValue != 0 else { return nil }
        // Counted on the bits first: status writes are frequent and this rule rarely fires.
        guard (change.new.rawValue & ~change.old.rawValue & Self.stepBits).nonzeroBitCount > 1,
            InitSequence.check(change, device: device) == nil
        else { return nil }
        let added = Self.steps.filter { change.new.contains($0) && !change.old.contains($0) }
        return "status \(change.old) -> \(change.new): \(added.map { $0.names[0] }.joined(separator: " and ")) set in one write"
    }
}
