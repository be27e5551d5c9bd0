import GuestMemory
import VirtioModel

/// A virtio-blk request as an owned chain carries it: the header's type and sector, and how
/// many bytes the chain has around them. The one reading of block requests that the rules and
/// the request descriptions share.
///
/// Spec: virtio v1.2 §5.2.6: `le32 type; le32 reserved; le64 sector;` device-readable, then
/// the data (device-writable for IN, readable for OUT), then the `u8 status` (writable).
struct BlockRequestInChain {
    /// The header's `type`, raw (the spec defines only some values).
    var rawType: UInt32
    var sector: UInt64
    /// The device-readable bytes after the 16-byte header.
    var readableData: UInt64
    /// The device-writable bytes before the 1-byte status.
    var writableData: UInt64

    var type: BlockRequestType? { BlockRequestType(rawValue: self.rawType) }

    /// The data bytes: a read's writable bytes before the status byte, a write's readable
    /// bytes after the header; 0 for other types.
    var dataBytes: UInt64 {
        switch self.type {
        case .read?: return self.writableData
        case .write?: return self.readableData
        default: return 0
        }
    }

    /// Reads the header; nil when the chain has fewer than 16 readable bytes or they are not
    /// in the dump.
    init?(_ chain: DescriptorChain, memory: GuestMemoryMap) {
        guard let header = OwnedBuffers.header(of: chain, count: 16, memory: memory) else { return nil }
        let cursor = ByteCursor(header)
        guard let type = try? cursor.peek(UInt32.self, at: 0), let sector = try? cursor.peek(UInt64.self, at: 8) else { return nil }
        self.rawType = type
        self.sector = sector
        self.readableData = chain.readableBytes > 16 ? chain.readableBytes - 16 : 0
        self.writableData = chain.writableBytes > 1 ? chain.writableBytes - 1 : 0
    }
}
