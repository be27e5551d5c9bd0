import GuestMemory
import VirtioModel

/// The packets a net receive queue's completed buffers hold (§5.1.6.4): without
/// VIRTIO_NET_F_MRG_RXBUF one buffer each; with it, `num_buffers` consecutive used buffers,
/// only the first starting with the header, so packets are followed from the queue's first
/// completion (known only while `used.idx` has not passed the queue size) for as long as each
/// packet's first buffer can be read. Shared by NET-RX-NUMBUF and the frame export.
struct ReceivedPackets {
    struct Packet {
        /// The used index of the packet's first buffer.
        var firstIndex: UInt16
        /// The buffers that still describe their requests, in order; fewer than
        /// `bufferCount` when some were reused since.
        var buffers: [CompletedChain]
        /// How many buffers the packet spans (`num_buffers`, 1 without MRG_RXBUF).
        var bufferCount: Int
        var isWhole: Bool { self.buffers.count == self.bufferCount }
    }

    private(set) var packets: [Packet] = []
    /// What breaks §5.1.6.4.1 (NET-RX-NUMBUF), one message each.
    private(set) var violations: [String] = []

    init(
        completed: [CompletedChain], usedIndex: UInt16, allCompletionsInRing: Bool, features: FeatureBits,
        memory: GuestMemoryMap
    ) {
        let headerSize = NetHeader.size(features: features)
        func count(_ completion: CompletedChain) -> UInt16? {
            guard headerSize >= 12,
                let header = OwnedBuffers.prefix(of: completion.chain, writable: true, count: 12, memory: memory),
                header.count == 12
            else { return nil }
            return NetHeader.numBuffers(in: header, headerSize: headerSize)
        }
        guard features.contains(.netMergeableRxBuffers) else {
            // Every buffer holds one whole packet and starts with its header.
            for completion in completed {
                if let count = count(completion), count != 1 {
                    self.violations.append(
                        "used element \(completion.usedIndex): num_buffers \(count) without VIRTIO_NET_F_MRG_RXBUF")
                }
                self.packets.append(Packet(firstIndex: completion.usedIndex, buffers: [completion], bufferCount: 1))
            }
            return
        }
        guard allCompletionsInRing else { return }
        let byIndex = Dictionary(completed.map { ($0.usedIndex, $0) }, uniquingKeysWith: { first, _ in first })
        var index: UInt16 = 0
        while index < usedIndex, let first = byIndex[index], let buffers = count(first) {
            guard buffers > 0 else {
                self.violations.append("used element \(index): num_buffers 0")
                return
            }
            let end = Int(index) + Int(buffers)
            guard end <= Int(usedIndex) else {
                self.violations.append(
                    "used element \(index): num_buffers \(buffers), but only \(Int(usedIndex) - Int(index)) buffer(s) are used")
                return
            }
            let parts = (Int(index)..<end).compactMap { byIndex[UInt16($0)] }
            for part in parts where Int(part.usedIndex) < end - 1 {
                if UInt64(part.element.length) != part.chain.writableBytes {
                    self.violations.append(
                        "used element \(part.usedIndex): buffer \(Int(part.usedIndex) - Int(index) + 1) of \(buffers) of a "
                            + "packet holds \(part.element.length) of its \(part.chain.writableBytes) bytes; all but the last must be full")
                }
            }
            self.packets.append(Packet(firstIndex: index, buffers: parts, bufferCount: Int(buffers)))
            index = UInt16(end)
        }
    }
}
