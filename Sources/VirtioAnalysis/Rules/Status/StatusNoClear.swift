import VirtioModel

/// A non-zero status write keeps every bit already set; only writing 0 (reset) clears bits.
///
/// DEVICE_NEEDS_RESET is the device's bit and is not counted. QEMU's own status changes
/// (clearing DRIVER_OK when bus mastering is turned off) are attributed to QEMU, not here.
///
/// Spec: virtio v1.2 §2.1.1 "The driver MUST NOT clear a device status bit."
struct StatusNoClear: StatusRule {
    static let info = RuleInfo(
        id: "STATUS-NO-CLEAR", severity: .error, section: "2.1.1",
        summary: "the driver never clears a status bit except by writing 0 (reset)",
        party: .driver, evidence: "virtio_set_status values")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, change.new.rawValue != 0 else { return nil }
        let cleared = change.old.subtracting(change.new).intersection(DeviceStatus.driverBits)
        guard !cleared.isEmpty else { return nil }
        return "status \(change.old) -> \(change.new) clears \(cleared.names.joined(separator: "|")) without a reset"
    }
}
