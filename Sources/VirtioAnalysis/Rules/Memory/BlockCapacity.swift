import GuestMemory
import VirtioModel

/// A block read or write stays within the device's capacity: `sector` plus the data's
/// sectors is no more than `capacity` (in 512-byte sectors, from the device configuration).
///
/// Spec: virtio v1.2 §5.2.6.1 ("A driver MUST NOT submit a request which would cause a read or
/// write beyond capacity").
struct BlockCapacity: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-CAPACITY", severity: .error, section: "5.2.6.1",
        summary: "a block read or write ends within the device's capacity",
        party: .driver, evidence: "a block request in a dump or a recording and the capacity (QMP query-block or --capacity)")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block, let capacity = queue.blockCapacity else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let request = BlockRequestInChain(chain, memory: queue.memory),
                let type = request.type, type == .read || type == .write
            else { return nil }
            // Sectors touched, rounded up: a partial sector is BLK-DATA-512's, but still reaches it.
            let sectors = (request.dataBytes + UInt64(BlockRequestType.sectorSize) - 1) / UInt64(BlockRequestType.sectorSize)
            let (end, overflow) = request.sector.addingReportingOverflow(sectors)
            guard overflow || end > capacity else { return nil }
            return "chain at head \(chain.head): \(type.name) of \(sectors) sector(s) at sector \(request.sector) "
                + "ends past the capacity of \(capacity) sectors"
        }
    }
}
