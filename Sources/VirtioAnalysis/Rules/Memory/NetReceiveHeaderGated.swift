import GuestMemory
import VirtioModel

/// The header the device writes before a received packet uses only what was negotiated:
/// `flags` 0 without GUEST_CSUM and no RSC_INFO without RSC_EXT; a GSO type only with its
/// GUEST_ feature, and then with NEEDS_CSUM and a `gso_size`.
///
/// Spec: virtio v1.2 §5.1.6.4.1 (1.1: §5.1.6.4.1) "If VIRTIO_NET_F_GUEST_CSUM is not negotiated,
/// the device MUST set flags to zero", "If VIRTIO_NET_F_GUEST_TSO4 is not negotiated, the device
/// MUST NOT set gso_type to VIRTIO_NET_HDR_GSO_TCPV4" (and UDP, TCPV6, UDP_L4 alike), "If gso_type
/// differs from VIRTIO_NET_HDR_GSO_NONE, then the device MUST also set the
/// VIRTIO_NET_HDR_F_NEEDS_CSUM bit in flags MUST set gso_size", "If VIRTIO_NET_F_RSC_EXT was not
/// negotiated, the device MUST not set VIRTIO_NET_HDR_F_RSC_INFO bit in flags."
struct NetReceiveHeaderGated: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-RX-FLAGS-GATED", severity: .error, section: "5.1.6.4.1", section11: "5.1.6.4.1",
        summary: "a received header's flags and gso_type use only negotiated features, GSO with NEEDS_CSUM and gso_size",
        party: .device, evidence: "the header of each packet in the completed receive buffers of a net queue in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .receive, let features = queue.features, let usedIndex = queue.usedIndex
        else { return [] }
        let packets = ReceivedPackets(
            completed: queue.completed, usedIndex: usedIndex, allCompletionsInRing: queue.allCompletionsInRing,
            features: features, memory: queue.memory
        ).packets
        let name = { (bit: Int) in Feature.named(bit: bit, device: .network)?.name ?? "bit \(bit)" }
        return packets.compactMap { packet in
            guard let first = packet.buffers.first, first.usedIndex == packet.firstIndex,
                let bytes = OwnedBuffers.prefix(of: first.chain, writable: true, count: 10, memory: queue.memory), bytes.count == 10,
                let header = try? NetHeader(bytes: bytes)
            else { return nil }
            var problems: [String] = []
            if header.flags != 0, !features.contains(bit: 1) {
                problems.append("flags 0x\(String(header.flags, radix: 16)) without \(name(1))")
            } else if header.flags & NetHeader.rscInfo != 0, !features.contains(bit: 61) {
                problems.append("RSC_INFO without \(name(61))")
            }
            if let bits = NetHeader.receiveFeatures(gsoType: header.gsoType), !bits.contains(where: features.contains(bit:)) {
                problems.append("gso_type \(header.gsoTypeName) without \(bits.map(name).joined(separator: " or "))")
            }
            if !header.segmentationLacks.isEmpty {
                problems.append("gso_type \(header.gsoTypeName) without \(header.segmentationLacks.joined(separator: " or "))")
            }
            guard !problems.isEmpty else { return nil }
            return "used element \(packet.firstIndex): \(problems.joined(separator: ", "))"
        }
    }
}
