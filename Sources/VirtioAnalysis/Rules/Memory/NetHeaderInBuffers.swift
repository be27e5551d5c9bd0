import GuestMemory
import VirtioModel

/// In a dump: every owned transmit chain has room for the virtio_net_hdr of the negotiated
/// size in its device-readable part (receive buffers are NET-RX-BUF-MIN's).
///
/// Spec: virtio v1.2 §5.1.6 "Both queues … begin with a struct virtio_net_hdr".
struct NetHeaderInBuffers: SnapshotRule {
    static let info = QEMUReported.netHeader

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .transmit, let features = queue.features else { return [] }
        let size = NetHeader.size(features: features)
        return queue.wholeChains.filter { $0.readableBytes < UInt64(size) }.map {
            "chain at head \($0.head) has \($0.readableBytes) device-readable bytes, less than the \(size)-byte virtio_net_hdr"
        }
    }

    /// The common 10 bytes of a transmit chain's virtio_net_hdr, when they are in the dump.
    static func header(of chain: DescriptorChain, memory: GuestMemoryMap) -> NetHeader? {
        guard let bytes = OwnedBuffers.header(of: chain, count: 10, memory: memory) else { return nil }
        return try? NetHeader(bytes: bytes)
    }
}
