import VirtioModel

/// An input device's driver selects configuration data by writing both `select` and `subsel`
/// (in either order) before it reads `size` or the data, and writes no other configuration
/// byte. Judged on virtio-pci where the trace has `memory_region_ops_write` and
/// `memory_region_ops_read`, and on virtio-mmio from its register writes and reads at 0x100
/// and above, once the device is known to be an input device: its DeviceID read by the
/// driver's probe (with `memory_region_ops_*` in the trace), or `--device`.
///
/// Spec: virtio v1.2 §5.8.5.1 (1.1: §5.8.5.1) "A driver MUST set both select and subsel when
/// querying device configuration, in any order. A driver MUST NOT write to configuration
/// fields other than select and subsel."
struct InputConfigWrites: ConfigWriteRule, ConfigReadRule {
    static let info = RuleInfo(
        id: "INPUT-CFG-WRITES", severity: .error, section: "5.8.5.1",
        summary: "an input driver writes both select and subsel before it reads the data, and no other configuration byte",
        party: .driver,
        evidence: "input device configuration writes and reads (memory_region_ops_write/read on virtio-pci; on virtio-mmio, "
            + "register writes and reads at 0x100 and above of a device known to be an input device: its probed DeviceID, or --device)")

    static func check(_ write: ConfigSpaceWrite, device: DeviceContext) -> String? {
        guard device.type == .input, write.bytes.upperBound >= InputConfigSelect.sizeOffset else { return nil }
        let bytes = write.bytes
        let count = bytes.upperBound - bytes.lowerBound + 1
        return "wrote \(count) byte(s) at configuration offset \(bytes.lowerBound) (0x\(String(write.value, radix: 16))): "
            + "an input driver writes only select (offset 0) and subsel (offset 1)"
    }

    static func check(_ read: ConfigSpaceRead, device: DeviceContext) -> String? {
        let selection = device.inputSelection
        guard device.type == .input, InputSelection.reachesSize(read), !selection.consulted, selection.isHalf else { return nil }
        let (written, missing) = selection.wroteSelect ? ("select", "subsel") : ("subsel", "select")
        let value = (selection.wroteSelect ? selection.select : selection.subsel).map { " = 0x" + String($0, radix: 16) } ?? ""
        return "read configuration offset \(read.offset) after writing \(written)\(value) but not \(missing): "
            + "the driver sets both to select the data it reads"
    }
}
