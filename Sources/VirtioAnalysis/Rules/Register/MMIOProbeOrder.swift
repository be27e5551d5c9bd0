import VirtioModel

/// A virtio-mmio driver starts with each register block by reading MagicValue and Version,
/// then DeviceID, and touches no other register of a block whose DeviceID is 0. Judged on the
/// accesses `memory_region_ops_read` and `memory_region_ops_write` trace on `virtio-mmio`
/// regions (`vqscope record` enables both): their absolute addresses tell the blocks apart,
/// empty ones too, which no status write ever names. A MagicValue read after DeviceID starts
/// the block's probe again (a second driver, or a reboot); one finding per probe.
///
/// Spec: virtio v1.2 §4.2.3.1.1 (1.1: §4.2.3.1.1) "The driver MUST start the device
/// initialization by reading and checking values from MagicValue and Version. If both values
/// are valid, it MUST read DeviceID and if its value is zero (0x0) MUST abort initialization
/// and MUST NOT access any of the other registers."
enum MMIOProbeOrder {
    static let info = RuleInfo(
        id: "MMIO-PROBE-ORDER", severity: .error, section: "4.2.3.1.1", section11: "4.2.3.1.1",
        summary: "a virtio-mmio driver reads MagicValue and Version, then DeviceID, before any other register, and leaves a block with DeviceID 0 alone",
        party: .driver,
        evidence: "reads and writes of virtio-mmio register blocks by address (memory_region_ops_read/write)")

    /// One register block's probe, as its driver made it so far.
    struct Probe: Sendable {
        var magic: UInt64?
        var version: UInt64?
        var deviceID: UInt64?
        /// This probe was reported: no second finding until the next probe.
        var reported = false

        /// MagicValue and Version read, both valid.
        var valid: Bool {
            self.magic == MMIOMagicVersion.magic
                && (self.version == UInt64(MMIOVersion.modern.rawValue) || self.version == UInt64(MMIOVersion.legacy.rawValue))
        }
    }

    /// Judges an access at register `offset` of the block whose probe is `probe` (`value`: what
    /// a read returned; nil for a write) and brings the probe up to date; the finding's message,
    /// if any.
    static func access(offset: UInt64, read value: UInt64?, probe: inout Probe) -> String? {
        let register = MMIORegister(rawValue: offset)
        if let value, let register {
            switch register {
            case .magicValue:
                // After DeviceID, a new probe.
                if probe.deviceID != nil { probe = Probe() }
                probe.magic = value
                return nil
            case .version:
                if probe.deviceID == nil { probe.version = value }
                return nil
            case .deviceID where probe.deviceID != nil:
                return nil
            case .deviceID where probe.magic != nil && probe.version != nil:
                probe.deviceID = value
                return nil
            default:
                break
            }
        }
        let what = (value == nil ? "wrote " : "read ") + (register.map(\.name) ?? "offset 0x" + String(offset, radix: 16))
        let message: String
        if probe.magic == nil || probe.version == nil {
            message = "\(what) before reading MagicValue and Version"
        } else if !probe.valid {
            return nil
        } else if probe.deviceID == nil {
            message = "\(what) before reading DeviceID"
        } else if probe.deviceID == 0 {
            message = "\(what) of a block whose DeviceID read 0: the driver aborts and accesses no other register"
        } else {
            return nil
        }
        guard !probe.reported else { return nil }
        probe.reported = true
        return message
    }
}
