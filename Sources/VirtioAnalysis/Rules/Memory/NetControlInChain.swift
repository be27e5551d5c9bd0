import GuestMemory
import VirtioModel

/// A virtio-net control request as an owned chain carries it: its class and command, and the
/// device-readable data after them. The one reading of control requests the rules share.
///
/// Spec: virtio v1.2 §5.1.6.5: `u8 class; u8 command; u8 command-specific-data[];` device-readable,
/// then `u8 ack` device-writable.
struct NetControlInChain {
    var command: NetControlCommand
    /// How many device-readable bytes follow the class and command.
    var dataLength: UInt64
    let chain: DescriptorChain
    let memory: GuestMemoryMap

    /// Reads the class and command; nil when the chain has fewer than 2 readable bytes or they
    /// are not in the dump.
    init?(_ chain: DescriptorChain, memory: GuestMemoryMap) {
        guard chain.readableBytes >= 2, let start = OwnedBuffers.header(of: chain, count: 2, memory: memory) else { return nil }
        self.command = NetControlCommand(commandClass: start[0], command: start[1])
        self.dataLength = chain.readableBytes - 2
        self.chain = chain
        self.memory = memory
    }

    /// The first `count` bytes of the data (fewer when it has fewer); nil when they are not in
    /// the dump.
    func data(count: Int) -> [UInt8]? {
        OwnedBuffers.readablePrefix(of: self.chain, count: count + 2, memory: self.memory).map { Array($0.dropFirst(2)) }
    }

    /// The control requests of a net device's control queue whose walk found no defect.
    static func all(in queue: QueueSnapshotContext) -> [NetControlInChain] {
        guard queue.deviceType == .network, queue.role == .control else { return [] }
        return queue.wholeChains.compactMap { Self($0, memory: queue.memory) }
    }
}
