import GuestMemory
import VirtioModel

/// A VIRTIO_BLK_T_FLUSH request has `sector` 0.
///
/// Spec: virtio v1.2 §5.2.6.1 "A driver MUST set sector to 0 for a VIRTIO_BLK_T_FLUSH request."
struct BlockFlush: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-FLUSH", severity: .error, section: "5.2.6.1",
        summary: "a FLUSH request has sector 0",
        party: .driver, evidence: "the request header of an owned block request")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let request = BlockRequestInChain(chain, memory: queue.memory), request.type == .flush, request.sector != 0
            else { return nil }
            return "chain at head \(chain.head): FLUSH request with sector \(request.sector)"
        }
    }
}
