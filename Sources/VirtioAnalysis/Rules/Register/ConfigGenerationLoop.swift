import VirtioModel

/// A driver reads a configuration field wider than 32 bits (a net device's `mac`, a block
/// device's `capacity`, an input device's `u`) between two ConfigGeneration reads, so that it
/// can tell a torn value and read it again. Judged on virtio-mmio version 2 devices, whose
/// configuration reads QEMU traces, when the trace ends and the device's type is known.
///
/// Spec: virtio v1.2 §2.5.1 (1.1: §2.4.1) "Drivers MUST NOT assume reads from fields greater
/// than 32 bits wide are atomic, nor are reads from multiple fields: drivers SHOULD read device
/// configuration space fields like so: do { before = get_config_generation(device); // read
/// config entry/entries. after = get_config_generation(device); } while (after != before);"
struct ConfigGenerationLoop: DeviceSummaryRule {
    static let info = RuleInfo(
        id: "CFG-GENERATION-LOOP", severity: .warning, section: "2.5.1", section11: "2.4.1",
        summary: "fields wider than 32 bits are read between two ConfigGeneration reads",
        party: .driver, evidence: "virtio_mmio_read offsets: configuration reads (0x100 and up) and ConfigGeneration (0x0fc) around them")

    static func check(device: DeviceState) -> [SummaryFinding] {
        guard device.mmioVersion == .modern, let type = device.type, let layout = ConfigLayout.forDevice(type) else { return [] }
        let wide = layout.fields.filter { $0.size > 4 }
        return device.configReads.unbracketed.compactMap { run in
            // A wide field read in more than one access: its value may be torn.
            let torn = wide.filter { field in
                run.offsets.filter { $0 >= UInt64(field.offset) && $0 < UInt64(field.offset + field.size) }.count > 1
            }
            guard !torn.isEmpty else { return nil }
            let names = torn.map { "\($0.name) (\($0.size) bytes)" }.joined(separator: ", ")
            return SummaryFinding(
                message: "\(names) read in \(run.offsets.count) accesses without a ConfigGeneration read right before and after "
                    + "them: a change between the accesses goes unseen",
                line: run.place.line, timestamp: run.place.timestamp)
        }
    }
}
