import GuestMemory
import VirtioModel

/// A transmitted virtio_net_hdr sets no receive-only flag, and no flag at all without
/// VIRTIO_NET_F_CSUM.
///
/// Spec: virtio v1.2 §5.1.6.2.1 "If VIRTIO_NET_F_CSUM is not negotiated, the driver MUST set
/// flags to zero" and "The driver MUST NOT set the VIRTIO_NET_HDR_F_DATA_VALID and
/// VIRTIO_NET_HDR_F_RSC_INFO bits in flags."
struct NetTransmitFlags: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-TX-FLAGS", severity: .error, section: "5.1.6.2.1",
        summary: "a transmitted virtio_net_hdr sets no DATA_VALID or RSC_INFO, and no flags without CSUM",
        party: .driver, evidence: "the virtio_net_hdr of an owned transmit chain in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let header = NetHeaderInBuffers.header(of: chain, memory: queue.memory) else { return nil }
            let receiveOnly = header.flags & (NetHeader.dataValid | NetHeader.rscInfo)
            if receiveOnly != 0 {
                return "chain at head \(chain.head): flags 0x\(String(header.flags, radix: 16)) set DATA_VALID or RSC_INFO"
            }
            if header.flags != 0, let features = queue.features, !features.contains(bit: 0) {
                return "chain at head \(chain.head): flags 0x\(String(header.flags, radix: 16)) without VIRTIO_NET_F_CSUM"
            }
            return nil
        }
    }
}
