import VirtioModel

/// After setting FAILED, the driver resets the device (writes 0) before initializing it again.
///
/// Spec: virtio v1.2 §2.1.1 "If the driver sets the FAILED bit, the driver MUST later reset the
/// device before attempting to re-initialize it."
struct StatusFailedThenReset: StatusRule {
    static let info = RuleInfo(
        id: "STATUS-FAILED-THEN-RESET", severity: .error, section: "2.1.1",
        summary: "after FAILED the driver resets the device before re-initializing it",
        party: .driver, evidence: "virtio_set_status values")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, device.failedSinceReset, change.new.rawValue != 0 else { return nil }
        let initBits: DeviceStatus = [.acknowledge, .driver, .featuresOK, .driverOK]
        let added = change.new.subtracting(change.old).intersection(initBits)
        guard !added.isEmpty else { return nil }
        return "status \(change.old) -> \(change.new): re-initializing (\(added.names.joined(separator: "|"))) after FAILED without a reset"
    }
}
