import GuestMemory
import VirtioModel

/// A transmitted packet with VIRTIO_NET_HDR_F_NEEDS_CSUM has room for the checksum where the
/// header says it goes: `csum_start + csum_offset + 2` is at most the packet's length (the
/// chain's device-readable bytes after the virtio_net_hdr).
///
/// Derived from virtio v1.2 §5.1.6.2.1: with NEEDS_CSUM "the driver MUST set csum_start and
/// csum_offset such that calculating a ones' complement checksum from csum_start up until the
/// end of the packet and storing the result at offset csum_offset from csum_start will result
/// in a fully checksummed packet" — a 16-bit checksum stored past the packet's end cannot.
struct NetTransmitChecksumRange: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-TX-CSUM-RANGE", severity: .error, section: "5.1.6.2.1",
        summary: "with NEEDS_CSUM, the checksum at csum_start + csum_offset lies within the packet",
        party: .driver, evidence: "the virtio_net_hdr and length of an owned transmit chain and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit, let features = queue.features else { return [] }
        let size = UInt64(NetHeader.size(features: features))
        return queue.wholeChains.compactMap { chain in
            guard chain.readableBytes >= size, let header = NetHeaderInBuffers.header(of: chain, memory: queue.memory),
                header.flags & NetHeader.needsChecksum != 0
            else { return nil }
            let packet = chain.readableBytes - size
            let end = UInt64(header.checksumStart) + UInt64(header.checksumOffset) + 2
            guard end > packet else { return nil }
            return "chain at head \(chain.head): csum_start \(header.checksumStart) + csum_offset \(header.checksumOffset) "
                + "puts the checksum's 2 bytes past the \(packet)-byte packet"
        }
    }
}
