import GuestMemory
import VirtioModel

/// A transmitted virtio_net_hdr has `num_buffers` 0, where the header has the field (12 bytes
/// or more: VERSION_1 or MRG_RXBUF negotiated).
///
/// Spec: virtio v1.2 §5.1.6.2.1 "The driver MUST set num_buffers to zero."
struct NetTransmitNumBuffers: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-TX-NUMBUF-ZERO", severity: .error, section: "5.1.6.2.1",
        summary: "a transmitted virtio_net_hdr has num_buffers 0",
        party: .driver, evidence: "the virtio_net_hdr of an owned transmit chain and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit, let features = queue.features else { return [] }
        let size = NetHeader.size(features: features)
        guard size >= 12 else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let bytes = OwnedBuffers.header(of: chain, count: 12, memory: queue.memory),
                let count = NetHeader.numBuffers(in: bytes, headerSize: size), count != 0
            else { return nil }
            return "chain at head \(chain.head): num_buffers is \(count)"
        }
    }
}
