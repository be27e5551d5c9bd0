import GuestMemory
import VirtioModel

/// The data of a virtio-blk read or write is a whole number of 512-byte sectors.
///
/// Spec: virtio v1.2 §5.2.6.1 "A driver MUST NOT submit a request … The length of data MUST be a
/// multiple of 512 bytes for VIRTIO_BLK_T_IN and VIRTIO_BLK_T_OUT requests."
struct BlockDataSectors: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-DATA-512", severity: .error, section: "5.2.6.1",
        summary: "the data of a block read or write is a multiple of 512 bytes",
        party: .driver, evidence: "the request header and chain of an owned block request in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let request = BlockRequestInChain(chain, memory: queue.memory), let type = request.type,
                type == .read || type == .write
            else { return nil }
            let data = request.dataBytes
            guard data % UInt64(BlockRequestType.sectorSize) != 0 else { return nil }
            return "chain at head \(chain.head): \(type.name) request with \(data) data bytes, not a multiple of 512"
        }
    }
}
