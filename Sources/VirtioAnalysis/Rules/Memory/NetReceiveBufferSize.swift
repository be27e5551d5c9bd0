import GuestMemory
import VirtioModel

/// In a dump, with VIRTIO_NET_F_MRG_RXBUF: every owned receive buffer holds at least the
/// virtio_net_hdr. (Without MRG_RXBUF the size is a recommendation: NET-RX-BUF-ADVISED.)
///
/// Spec: virtio v1.2 §5.1.6.3.1 "If VIRTIO_NET_F_MRG_RXBUF is negotiated, each buffer MUST be at
/// least the size of the struct virtio_net_hdr."
struct NetReceiveBufferSize: SnapshotRule {
    static let info = QEMUReported.netReceiveBufferSize

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .receive, let features = queue.features,
            features.contains(.netMergeableRxBuffers)
        else { return [] }
        let size = NetHeader.size(features: features)
        return queue.wholeChains.filter { $0.writableBytes < UInt64(size) }.map {
            "chain at head \($0.head) has \($0.writableBytes) device-writable bytes, less than the \(size)-byte virtio_net_hdr"
        }
    }
}
