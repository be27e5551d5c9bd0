import GuestMemory
import VirtioModel

/// A transmitted virtio_net_hdr asks for segmentation only of a kind the device offered:
/// TCPV4 needs HOST_TSO4, TCPV6 HOST_TSO6, UDP HOST_UFO, UDP_L4 HOST_USO, the ECN bit HOST_ECN.
///
/// Spec: virtio v1.2 §5.1.6.2.1 "The driver MUST NOT send to the device TCP packets requiring
/// segmentation offload which have the Explicit Congestion Notification bit set, unless the
/// VIRTIO_NET_F_HOST_ECN feature is negotiated" and the gso_type conditions before it.
struct NetTransmitGSOGated: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-TX-GSO-GATED", severity: .error, section: "5.1.6.2.1",
        summary: "a transmitted gso_type (and its ECN bit) needs the matching HOST_ feature",
        party: .driver, evidence: "the virtio_net_hdr of an owned transmit chain in a dump and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit, let features = queue.features else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let header = NetHeaderInBuffers.header(of: chain, memory: queue.memory) else { return nil }
            if let (name, bit) = NetHeader.transmitFeature(gsoType: header.gsoType), !features.contains(bit: bit) {
                let feature = Feature.named(bit: bit, device: .network)?.name ?? "bit \(bit)"
                return "chain at head \(chain.head): gso_type \(name) without \(feature)"
            }
            if header.gsoType & NetHeader.gsoECN != 0, !features.contains(bit: 13) {
                return "chain at head \(chain.head): gso_type has the ECN bit without VIRTIO_NET_F_HOST_ECN"
            }
            return nil
        }
    }
}
