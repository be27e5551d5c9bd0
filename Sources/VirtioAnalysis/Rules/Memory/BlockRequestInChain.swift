import GuestMemory
import VirtioModel

/// A virtio-blk request as an owned chain carries it: the header's type and sector, and how
/// many data bytes the chain has for it. The one reading of block requests that the rules and
/// the request descriptions share.
///
/// Spec: virtio v1.2 §5.2.6: `le32 type; le32 reserved; le64 sector;` device-readable, then
/// the data (device-writable for IN, readable for OUT), then the `u8 status` (writable).
struct BlockRequestInChain {
    /// The header's `type`, raw (the spec defines only some values).
    var rawType: UInt32
    var sector: UInt64
    /// The data bytes: a read's writable bytes before the status byte, a write's readable
    /// bytes after the 16-byte header; 0 for other types.
    var dataBytes: UInt64

    var type: BlockRequestType? { BlockRequestType(rawValue: self.rawType) }

    /// Reads the header; nil when the chain has fewer than 16 readable bytes or they are not
    /// in the dump.
    init?(_ chain: DescriptorChain, memory: GuestMemoryMap) {
        guard let header = OwnedBuffers.header(of: chain, count: 16, memory: memory) else { return nil }
        func little(_ offset: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(header[offset + $1]) << (8 * UInt64($1)) }
        }
        self.rawType = UInt32(little(0, 4))
        self.sector = little(8, 8)
        switch BlockRequestType(rawValue: self.rawType) {
        case .read?: self.dataBytes = chain.writableBytes > 0 ? chain.writableBytes - 1 : 0
        case .write?: self.dataBytes = chain.readableBytes > 16 ? chain.readableBytes - 16 : 0
        default: self.dataBytes = 0
        }
    }
}
