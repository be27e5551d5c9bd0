import GuestMemory
import VirtioModel

/// With VIRTIO_NET_F_MTU negotiated, a transmitted packet without segmentation (gso_type NONE,
/// with or without the ECN bit) is at most `mtu` bytes plus its Ethernet header: 14 bytes, or
/// 18 with an 802.1Q tag. The packet is the chain's device-readable bytes after the
/// virtio_net_hdr; `mtu` is the device's configuration field, known from outside the trace
/// (QEMU's `host_mtu` property through QMP, or `inspect --mtu`).
///
/// Spec: virtio v1.2 §5.1.4.2 "If the driver negotiates VIRTIO_NET_F_MTU, it MUST NOT transmit
/// packets of size exceeding the value of mtu (plus low level ethernet header length) with
/// gso_type NONE or ECN."
struct NetTransmitMTU: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-TX-MTU", severity: .error, section: "5.1.4.2",
        summary: "with MTU negotiated, a packet without segmentation is at most mtu bytes after its Ethernet header",
        party: .driver,
        evidence: "the virtio_net_hdr and length of an owned transmit chain, the negotiated features and the device's mtu")

    /// An Ethernet header without and with an 802.1Q tag (TPID 0x8100).
    static let ethernetHeader: UInt64 = 14
    static let taggedEthernetHeader: UInt64 = 18

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit, let features = queue.features,
            features.contains(.netMTU), let mtu = queue.netMTU
        else { return [] }
        let size = NetHeader.size(features: features)
        return queue.wholeChains.compactMap { chain in
            guard let header = NetHeaderInBuffers.header(of: chain, memory: queue.memory),
                header.gsoType & ~NetHeader.gsoECN == 0,
                let start = OwnedBuffers.header(of: chain, count: size + Int(Self.ethernetHeader), memory: queue.memory)
            else { return nil }
            let tagged = start[size + 12] == 0x81 && start[size + 13] == 0x00
            let linkHeader = tagged ? Self.taggedEthernetHeader : Self.ethernetHeader
            let packet = chain.readableBytes - UInt64(size)
            guard packet > UInt64(mtu) + linkHeader else { return nil }
            let type = header.gsoType & NetHeader.gsoECN != 0 ? "NONE with ECN" : "NONE"
            return "chain at head \(chain.head): a \(packet)-byte packet without segmentation (gso_type \(type)) "
                + "exceeds the device's mtu \(mtu) plus its \(linkHeader)-byte Ethernet header"
        }
    }
}
