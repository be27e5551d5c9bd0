import GuestMemory
import VirtioModel

/// A block request's type is one the device offered: FLUSH needs VIRTIO_BLK_F_FLUSH, DISCARD
/// VIRTIO_BLK_F_DISCARD, WRITE_ZEROES VIRTIO_BLK_F_WRITE_ZEROES, SECURE_ERASE
/// VIRTIO_BLK_F_SECURE_ERASE, GET_LIFETIME VIRTIO_BLK_F_LIFETIME. The device answers others with
/// VIRTIO_BLK_S_UNSUPP, so this is a warning (derived from §5.2.3 and §5.2.6.2).
///
/// Spec: virtio v1.2 §5.2.3, §5.2.6.2.
struct BlockTypeGated: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-TYPE-GATED", severity: .warning, section: "5.2.3",
        summary: "block request types that need a feature are sent only when it was negotiated",
        party: .driver, evidence: "the request header of an owned block request and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block, let features = queue.features else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let type = BlockFrame.requestType(of: chain, memory: queue.memory), let bit = type.gatingFeature,
                !features.contains(bit: bit)
            else { return nil }
            let feature = Feature.named(bit: bit, device: .block)?.name ?? "bit \(bit)"
            return "chain at head \(chain.head): \(type.name) request without \(feature)"
        }
    }
}
