import VirtioModel

/// The driver sets the status bits in the order ACKNOWLEDGE → DRIVER → FEATURES_OK → DRIVER_OK.
///
/// A bit set before the one it must follow is an error. FEATURES_OK is not part of the
/// legacy sequence (§3.1.2), so legacy devices may go from DRIVER to DRIVER_OK.
///
/// Spec: virtio v1.2 §3.1.1 "Driver Requirements: Device Initialization".
struct InitSequence: StatusRule {
    static let info = RuleInfo(
        id: "INIT-SEQUENCE", severity: .error, section: "3.1.1",
        summary: "status bits are set in the order ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK",
        party: .driver, evidence: "virtio_set_status values (or virtio-mmio Status writes)")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, change.new.rawValue != 0 else { return nil }
        let new = change.new
        var missing: [(DeviceStatus, DeviceStatus)] = []
        if new.contains(.driver), !new.contains(.acknowledge) { missing.append((.driver, .acknowledge)) }
        if new.contains(.featuresOK), !new.contains(.driver) { missing.append((.featuresOK, .driver)) }
        if new.contains(.driverOK) {
            if !new.contains(.driver) {
                missing.append((.driverOK, .driver))
            } else if !new.contains(.featuresOK), !device.legacy {
                missing.append((.driverOK, .featuresOK))
            }
        }
        // Only report what this write introduced: bits kept from an earlier write were judged then.
        let introduced = missing.filter { !change.old.contains($0.0) }
        guard let first = introduced.first else { return nil }
        let hint =
            first.1 == .featuresOK && device.transport != .mmio
            ? " (a legacy driver on a transitional virtio-pci device would do this; vqscope does not analyse legacy virtio-pci)"
            : ""
        return "status \(change.old) -> \(new): \(first.0.names[0]) set without \(first.1.names[0])\(hint)"
    }
}
