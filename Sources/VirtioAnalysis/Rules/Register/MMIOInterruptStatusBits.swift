import VirtioModel

/// A virtio-mmio device sets no InterruptStatus bit but the two events it defines: used
/// buffer notification (bit 0) and configuration change notification (bit 1). Judged on the
/// reads `memory_region_ops_read` traces with their values. That a bit stays set until the
/// driver acknowledges it, and is cleared on reset, is not judged: an event and its
/// acknowledgement race, and QEMU traces neither the interrupt's raising nor its level.
///
/// Spec: virtio v1.2 §4.2.2.1 (1.1: §4.2.2.1) "The device MUST present each event by setting
/// the corresponding bit in InterruptStatus from the moment it takes place, until the driver
/// acknowledges the interrupt by writing a corresponding bit mask to the InterruptACK
/// register. Bits which do not represent events which took place MUST be zero."
enum MMIOInterruptStatusBits {
    static let info = RuleInfo(
        id: "MMIO-ISR-SEMANTICS", severity: .error, section: "4.2.2.1", section11: "4.2.2.1",
        summary: "a virtio-mmio InterruptStatus read shows no bit but used buffer (0) and configuration change (1)",
        party: .device, evidence: "virtio-mmio InterruptStatus (0x060) reads (memory_region_ops_read)")

    /// What is wrong with `value` read from InterruptStatus; nil when it is allowed.
    static func check(value: UInt64) -> String? {
        guard value & ~InterruptAckBits.defined != 0 else { return nil }
        return "InterruptStatus read as 0x\(String(value, radix: 16)): bits 0x\(String(value & ~InterruptAckBits.defined, radix: 16)) "
            + "stand for no event (only 0x1, used buffer, and 0x2, configuration change, are defined)"
    }
}
