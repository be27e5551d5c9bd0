import GuestMemory
import VirtioModel

/// The one way request rules judge the directions of the chains a device owns in a dump:
/// one message per whole chain that has a descriptor of the forbidden direction.
enum OwnedBuffers {
    /// Whole owned chains with device-readable descriptors.
    static func readable(in queue: QueueSnapshotContext) -> [String] {
        queue.wholeChains.compactMap { chain in
            let count = chain.elements.filter { !$0.descriptor.flags.contains(.write) }.count
            guard count > 0 else { return nil }
            return "chain at head \(chain.head) has \(count) device-readable descriptor(s), \(chain.readableBytes) bytes"
        }
    }

    /// Whole owned chains with device-writable descriptors.
    static func writable(in queue: QueueSnapshotContext) -> [String] {
        queue.wholeChains.compactMap { chain in
            let count = chain.elements.filter { $0.descriptor.flags.contains(.write) }.count
            guard count > 0 else { return nil }
            return "chain at head \(chain.head) has \(count) device-writable descriptor(s), \(chain.writableBytes) bytes"
        }
    }

    /// The first `count` device-readable bytes of a chain (a request header), gathered across
    /// descriptors; nil when the chain has fewer or they are not in the dump.
    static func header(of chain: DescriptorChain, count: Int, memory: GuestMemoryMap) -> [UInt8]? {
        guard let bytes = Self.readablePrefix(of: chain, count: count, memory: memory), bytes.count == count else {
            return nil
        }
        return bytes
    }

    /// Up to `count` device-readable bytes from the start of a chain, gathered across
    /// descriptors (fewer when the chain has fewer); nil when they are not in the dump.
    static func readablePrefix(of chain: DescriptorChain, count: Int, memory: GuestMemoryMap) -> [UInt8]? {
        Self.prefix(of: chain, writable: false, count: count, memory: memory)
    }

    /// Up to `count` bytes from the start of a chain's device-readable or device-writable
    /// part (a received header is in the writable part), gathered across descriptors.
    static func prefix(of chain: DescriptorChain, writable: Bool, count: Int, memory: GuestMemoryMap) -> [UInt8]? {
        chain.bytes(writable: writable, count: count, memory: memory)
    }
}
