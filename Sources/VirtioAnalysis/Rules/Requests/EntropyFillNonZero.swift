/// The entropy device places at least one random byte in every buffer it returns.
///
/// Spec: virtio v1.2 §5.4.6.2 (1.1: §5.4.6.2) "The device MUST place one or more random bytes
/// into the buffer, but it MAY use less than the entire buffer length."
enum EntropyFillNonZero {
    static let info = RuleInfo(
        id: "RNG-FILL-NONZERO", severity: .error, section: "5.4.6.2", section11: "5.4.6.2",
        summary: "the entropy device returns every buffer with at least one byte written",
        party: .device, evidence: "virtio_rng_pushed with 0 bytes (a used element of length 0 on an entropy queue)")

    /// A message when the device returned a buffer with `bytes` written; nil for one or more.
    static func check(bytes: UInt64) -> String? {
        bytes == 0 ? "the device returned a buffer with no random byte in it (len 0)" : nil
    }
}
