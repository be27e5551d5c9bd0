import VirtioModel

/// A block device that offers VIRTIO_BLK_F_CONFIG_WCE (its cache mode in `writeback`) offers
/// VIRTIO_BLK_F_FLUSH too: a writeback cache the driver cannot flush loses data. Judged by
/// `vqscope record`, which has the offer from QMP (`host-features`), once per device and run.
///
/// Spec: virtio v1.2 §5.2.5.2 (1.1: §5.2.5.2) "Devices SHOULD always offer VIRTIO_BLK_F_FLUSH,
/// and MUST offer it if they offer VIRTIO_BLK_F_CONFIG_WCE."
enum BlockWCENeedsFlush {
    static let info = RuleInfo(
        id: "BLK-WCE-NEEDS-FLUSH", severity: .error, section: "5.2.5.2", section11: "5.2.5.2",
        summary: "a block device offering CONFIG_WCE offers FLUSH (recordings)",
        party: .device, evidence: "a recording: QMP's host-features of a block device")

    /// What the offer breaks, nil when it holds.
    static func message(offered: FeatureBits, type: DeviceType) -> String? {
        guard type == .block, offered.contains(bit: 11), !offered.contains(bit: 9) else { return nil }
        return "the device offers VIRTIO_BLK_F_CONFIG_WCE without VIRTIO_BLK_F_FLUSH (offered 0x\(String(offered.rawValue, radix: 16)))"
    }
}
