import GuestMemory
import VirtioModel

/// In a dump, without VIRTIO_NET_F_MRG_RXBUF: every owned receive chain can hold the largest
/// packet, 1526 bytes (65562 with GUEST_TSO4, GUEST_TSO6 or GUEST_UFO). A SHOULD: a warning.
///
/// Spec: virtio v1.2 §5.1.6.3.1 "the driver SHOULD populate the receive queue(s) with buffers of
/// at least 65562 bytes. Otherwise, the driver SHOULD populate the receive queue(s) with buffers
/// of at least 1526 bytes."
struct NetReceiveBufferAdvised: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-RX-BUF-ADVISED", severity: .warning, section: "5.1.6.3.1",
        summary: "without MRG_RXBUF, receive buffers hold a whole packet (1526 bytes, 65562 with guest TSO/UFO)",
        party: .driver, evidence: "the owned receive chains of a net device in a dump and the negotiated features")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .receive, let features = queue.features,
            !features.contains(.netMergeableRxBuffers)
        else { return [] }
        let size = NetHeader.minimumReceiveBuffer(features: features)
        return queue.wholeChains.filter { $0.writableBytes < UInt64(size) }.map {
            "chain at head \($0.head) has \($0.writableBytes) device-writable bytes, less than \(size)"
        }
    }
}
