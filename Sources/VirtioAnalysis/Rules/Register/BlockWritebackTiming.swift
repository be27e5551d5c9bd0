import VirtioModel

/// The driver of a block device reads `writeback` only once FEATURES_OK is set: the cache
/// mode it shows may depend on the features negotiated (with CONFIG_WCE but not FLUSH, the
/// device sets it to 0). Judged on virtio-mmio version 2 devices, whose configuration reads
/// QEMU traces; a legacy driver may read it at any time (§5.2.5.3).
///
/// Spec: virtio v1.2 §5.2.5.1 (1.1: §5.2.5.1) "The driver MUST NOT read writeback before
/// setting the FEATURES_OK device status bit."
struct BlockWritebackTiming: DeviceSummaryRule {
    static let info = RuleInfo(
        id: "BLK-WRITEBACK-TIMING", severity: .error, section: "5.2.5.1", section11: "5.2.5.1",
        summary: "the driver reads writeback only after setting FEATURES_OK",
        party: .driver, evidence: "virtio_mmio_read of configuration offset 32 (0x120) before the Status write with FEATURES_OK")

    /// `writeback`'s offset in `struct virtio_blk_config` (§5.2.4).
    static let writebackOffset = UInt64(ConfigLayout.block.fields.first { $0.name == "writeback" }?.offset ?? 32)

    static func check(device: DeviceState) -> [SummaryFinding] {
        guard device.type == .block, device.mmioVersion == .modern, let place = device.writebackReadBeforeFeaturesOK else { return [] }
        return [SummaryFinding(
            message: "writeback read before FEATURES_OK was set: the cache mode may still change with the features negotiated",
            line: place.line, timestamp: place.timestamp)]
    }
}
