import GuestMemory
import VirtioModel

/// The data of a DISCARD, WRITE_ZEROES or SECURE_ERASE request is whole 16-byte
/// `struct virtio_blk_discard_write_zeroes` segments, and a DISCARD's segments leave `unmap`
/// clear.
///
/// Spec: virtio v1.2 §5.2.6.1 (1.1: §5.2.6.1) "The length of data MUST be a multiple of the size
/// of struct virtio_blk_discard_write_zeroes for VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_SECURE_ERASE
/// and VIRTIO_BLK_T_WRITE_ZEROES requests", "The unmap bit MUST be zero for discard commands."
struct BlockSegments: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-SEGMENTS", severity: .error, section: "5.2.6.1", section11: "5.2.6.1",
        summary: "DISCARD, WRITE_ZEROES and SECURE_ERASE data is whole 16-byte segments; DISCARD's leave unmap 0",
        party: .driver, evidence: "the header and data of an owned block request")

    /// `struct virtio_blk_discard_write_zeroes`: le64 sector, le32 num_sectors, le32 flags
    /// (bit 0 `unmap`).
    static let segmentSize: UInt64 = 16
    /// The most data read from one request: 4096 segments.
    static let readLimit = 65_536

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let request = BlockRequestInChain(chain, memory: queue.memory),
                let type = request.type, [.discard, .writeZeroes, .secureErase].contains(type)
            else { return nil }
            let header = UInt64(BlockRequestType.headerSize)
            let data = chain.readableBytes > header ? chain.readableBytes - header : 0
            if data % Self.segmentSize != 0 {
                return "chain at head \(chain.head): \(type.name) data of \(data) bytes, not whole \(Self.segmentSize)-byte segments"
            }
            guard type == .discard else { return nil }
            let count = Int(min(header + data, UInt64(Self.readLimit)))
            guard let bytes = OwnedBuffers.readablePrefix(of: chain, count: count, memory: queue.memory) else { return nil }
            let segments = max(bytes.count - Int(header), 0) / Int(Self.segmentSize)
            let unmapped = (0..<segments).filter { bytes[Int(header) + $0 * Int(Self.segmentSize) + 12] & 1 != 0 }
            guard let first = unmapped.first else { return nil }
            return "chain at head \(chain.head): DISCARD segment \(first) sets unmap"
                + (unmapped.count > 1 ? " (and \(unmapped.count - 1) more)" : "")
        }
    }
}
