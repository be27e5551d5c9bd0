import VirtioModel

/// While it negotiates features (DRIVER set, FEATURES_OK not yet), the driver may read the
/// device-specific configuration but not write it. A legacy driver has no FEATURES_OK step and
/// may write the configuration once it has written its features (§3.1.2), and a virtio-mmio
/// trace cannot tell the two interfaces apart before the driver shows which it follows: so a
/// write is judged when the driver sets FEATURES_OK, and reported there, naming the write.
///
/// Spec: virtio v1.2 §3.1.1 step 4 "Read device feature bits, and write the subset of feature
/// bits understood by the OS and driver to the device. During this step the driver MAY read
/// (but MUST NOT write) the device-specific configuration fields to check that it can support
/// the device before accepting it."
struct ConfigWriteDuringNegotiation: StatusRule {
    static let info = RuleInfo(
        id: "INIT-NO-CONFIG-WRITE-DURING-NEG", severity: .error, section: "3.1.1",
        summary: "no device-specific configuration writes between DRIVER and FEATURES_OK",
        party: .driver,
        evidence: "virtio-mmio writes at offset 0x100 and above while the status has DRIVER and not FEATURES_OK, then FEATURES_OK set")

    static func check(_ change: StatusChange, device: DeviceContext) -> String? {
        guard change.origin == .driver, change.new.contains(.featuresOK), !change.old.contains(.featuresOK),
            let write = device.configWriteDuringNegotiation
        else { return nil }
        return "FEATURES_OK set after the driver wrote the device-specific configuration during feature negotiation: "
            + "offset 0x\(String(write.offset, radix: 16)) (config byte \(write.offset - MMIORegister.configOffset)) "
            + "= 0x\(String(write.value, radix: 16)) at line \(write.line)"
    }
}
