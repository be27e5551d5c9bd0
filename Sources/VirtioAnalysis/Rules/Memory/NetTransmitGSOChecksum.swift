import GuestMemory
import VirtioModel

/// A transmitted virtio_net_hdr that asks for segmentation (`gso_type` other than
/// VIRTIO_NET_HDR_GSO_NONE) also sets VIRTIO_NET_HDR_F_NEEDS_CSUM and a `gso_size` (the MSS).
///
/// Spec: virtio v1.2 §5.1.6.2.1 "If gso_type differs from VIRTIO_NET_HDR_GSO_NONE, then the
/// driver MUST also set the VIRTIO_NET_HDR_F_NEEDS_CSUM bit in flags and MUST set gso_size to
/// indicate the desired MSS."
struct NetTransmitGSOChecksum: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-TX-GSO-CSUM", severity: .error, section: "5.1.6.2.1",
        summary: "a transmitted header asking for segmentation sets NEEDS_CSUM and gso_size",
        party: .driver, evidence: "the virtio_net_hdr of an owned transmit chain")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let header = NetHeaderInBuffers.header(of: chain, memory: queue.memory), !header.segmentationLacks.isEmpty
            else { return nil }
            return "chain at head \(chain.head): gso_type \(header.gsoTypeName) without "
                + header.segmentationLacks.joined(separator: " or ")
        }
    }
}
