import GuestMemory
import VirtioModel

/// A VIRTIO_BLK_T_FLUSH request carries no data: its 16-byte header and its status byte only.
/// A SHOULD NOT, so a warning; BLK-FLUSH has the MUST of the same paragraph.
///
/// Spec: virtio v1.2 §5.2.6.1 "A driver SHOULD NOT include any data in a VIRTIO_BLK_T_FLUSH
/// request."
struct BlockFlushData: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-FLUSH-DATA", severity: .warning, section: "5.2.6.1",
        summary: "a FLUSH request carries no data besides its header and status byte",
        party: .driver, evidence: "the request header and buffers of an owned block request")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let request = BlockRequestInChain(chain, memory: queue.memory), request.type == .flush else { return nil }
            let (readable, writable) = (request.readableData, request.writableData)
            guard readable > 0 || writable > 0 else { return nil }
            return "chain at head \(chain.head): FLUSH request with \(readable) device-readable byte(s) after its header "
                + "and \(writable) device-writable byte(s) before its status"
        }
    }
}
