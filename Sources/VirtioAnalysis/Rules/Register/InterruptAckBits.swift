/// An InterruptACK write sets only the two defined event bits: used buffer notification (bit
/// 0) and configuration change notification (bit 1).
///
/// Spec: virtio v1.2 §4.2.2.2 (1.1: §4.2.2.2) "The driver MUST write a value with a bit mask
/// describing events it handled into InterruptACK when it finishes handling an interrupt and
/// MUST NOT set any of the undefined bits in the value."
enum InterruptAckBits {
    static let info = RuleInfo(
        id: "MMIO-IRQ-ACK", severity: .error, section: "4.2.2.2", section11: "4.2.2.2",
        summary: "an InterruptACK write sets no bit but used buffer (0) and configuration change (1)",
        party: .driver, evidence: "virtio_mmio_write to InterruptACK (0x064) with its value")

    /// The bits InterruptStatus defines (§4.2.2).
    static let defined: UInt64 = 0b11

    /// A message when `value`, written to InterruptACK, sets an undefined bit.
    static func check(value: UInt64) -> String? {
        guard value & ~Self.defined != 0 else { return nil }
        return "InterruptACK 0x\(String(value, radix: 16)) sets undefined bits 0x\(String(value & ~Self.defined, radix: 16)) "
            + "(only 0x1, used buffer, and 0x2, configuration change, are defined)"
    }
}
