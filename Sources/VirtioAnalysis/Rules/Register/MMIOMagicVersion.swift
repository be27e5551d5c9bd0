import VirtioModel

/// A virtio-mmio device returns 0x74726976 ("virt") in MagicValue and its interface's version
/// in Version: 2, or 1 for a legacy device (§4.2.4). Judged on the reads
/// `memory_region_ops_read` traces with their values (`vqscope record` enables it); the
/// device is not named: a register block's reads come before any status write names it.
///
/// Spec: virtio v1.2 §4.2.2.1 (1.1: §4.2.2.1) "The device MUST return 0x74726976 in
/// MagicValue. The device MUST return value 0x2 in Version." §4.2.4: a legacy device has
/// Version 1.
enum MMIOMagicVersion {
    static let info = RuleInfo(
        id: "MMIO-MAGIC-VERSION", severity: .error, section: "4.2.2.1", section11: "4.2.2.1",
        summary: "a virtio-mmio device returns 0x74726976 in MagicValue and 2 (legacy: 1) in Version",
        party: .device, evidence: "virtio-mmio MagicValue (0x000) and Version (0x004) reads (memory_region_ops_read)")

    /// "virt" in little-endian.
    static let magic: UInt64 = 0x7472_6976

    /// What is wrong with `value` read at register `offset`; nil when it is allowed or the
    /// register is another.
    static func check(offset: UInt64, value: UInt64) -> String? {
        switch MMIORegister(rawValue: offset) {
        case .magicValue? where value != Self.magic:
            return "MagicValue read as 0x\(String(value, radix: 16)), not 0x74726976 (\"virt\")"
        case .version? where value != UInt64(MMIOVersion.modern.rawValue) && value != UInt64(MMIOVersion.legacy.rawValue):
            return "Version read as \(value): 2, or 1 for a legacy device, are the only versions"
        default:
            return nil
        }
    }
}
