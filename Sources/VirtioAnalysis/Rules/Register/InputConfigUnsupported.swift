import VirtioModel

/// An input device answers `size` 0 for a selection it has no data for. Judged where the spec
/// itself defines none: `select` UNSET or a value the spec does not list, and a non-zero
/// `subsel` with ID_NAME, ID_SERIAL, ID_DEVIDS or PROP_BITS (whose `subsel` is zero); which
/// event types (EV_BITS) and axes (ABS_INFO) have data is the device's own. On virtio-pci,
/// where the trace has `memory_region_ops_read` and the driver wrote both fields since the
/// device's reset.
///
/// Spec: virtio v1.2 §5.8.5.2 (1.1: §5.8.5.2) "A device MUST set the size field to zero if it
/// doesn't support a given select and subsel combination."
struct InputConfigUnsupported: ConfigReadRule {
    static let info = RuleInfo(
        id: "INPUT-CFG-UNSUPPORTED", severity: .error, section: "5.8.5.2",
        summary: "an input device answers size 0 for a select and subsel the spec defines no data for",
        party: .device,
        evidence: "input device configuration writes and the size read back (memory_region_ops_write/read on virtio-pci)")

    static func check(_ read: ConfigSpaceRead, device: DeviceContext) -> String? {
        let sizeOffset = InputConfigSelect.sizeOffset
        guard device.type == .input, let value = read.value, let width = read.size, read.offset <= sizeOffset,
            read.offset &+ width > sizeOffset,
            let select = device.inputSelection.select, let subsel = device.inputSelection.subsel,
            InputConfigSelect.isUndefined(select: select, subsel: subsel)
        else { return nil }
        // At most 2 bytes in: the shift stays within the 64-bit value.
        let size = UInt8(truncatingIfNeeded: value >> ((sizeOffset - read.offset) * 8))
        guard size != 0 else { return nil }
        let name = InputConfigSelect(rawValue: select)?.name ?? "no selection the spec lists"
        return "size read as \(size) with select 0x\(String(select, radix: 16)) (\(name)) and subsel 0x\(String(subsel, radix: 16)): "
            + "the spec defines no data there, so the device answers 0"
    }
}
