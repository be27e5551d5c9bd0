import GuestMemory
import VirtioModel

/// A received packet's `num_buffers` says how many used buffers it spans: 1 without
/// MRG_RXBUF; with it, that many consecutive used elements, all but the last filled.
///
/// Spec: virtio v1.2 §5.1.6.3.2, §5.1.6.4.1 (1.1: §5.1.6.3.2, §5.1.6.4.1).
struct NetReceiveBufferCount: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-RX-NUMBUF", severity: .error, section: "5.1.6.4.1", section11: "5.1.6.4.1",
        summary: "num_buffers is 1 without MRG_RXBUF; with it, the count of used buffers the packet fills",
        party: .device, evidence: "the completed receive buffers of a net queue in a dump")

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .network, queue.role == .receive, let features = queue.features,
            let usedIndex = queue.usedIndex, NetHeader.size(features: features) >= 12
        else { return [] }
        let merged = features.contains(.netMergeableRxBuffers)
        func count(_ completion: CompletedChain) -> UInt16? {
            guard let header = OwnedBuffers.prefix(of: completion.chain, writable: true, count: 12, memory: queue.memory),
                header.count == 12
            else { return nil }
            return UInt16(header[10]) | UInt16(header[11]) << 8
        }
        guard merged else {
            // Every buffer holds one whole packet and starts with its header.
            return queue.completed.compactMap { completion in
                guard let count = count(completion), count != 1 else { return nil }
                return "used element \(completion.usedIndex): num_buffers \(count) without VIRTIO_NET_F_MRG_RXBUF"
            }
        }
        // With MRG_RXBUF only a packet's first buffer has the header: follow the packets from
        // the queue's first completion, while each packet's first buffer can be read.
        guard queue.allCompletionsInRing else { return [] }
        let byIndex = Dictionary(queue.completed.map { ($0.usedIndex, $0) }, uniquingKeysWith: { first, _ in first })
        var messages: [String] = []
        var index: UInt16 = 0
        while index < usedIndex, let first = byIndex[index], let buffers = count(first) {
            guard buffers > 0 else {
                messages.append("used element \(index): num_buffers 0")
                break
            }
            let end = Int(index) + Int(buffers)
            guard end <= Int(usedIndex) else {
                messages.append(
                    "used element \(index): num_buffers \(buffers), but only \(Int(usedIndex) - Int(index)) buffer(s) are used")
                break
            }
            for part in Int(index)..<(end - 1) {
                guard let buffer = byIndex[UInt16(part)] else { continue }
                if UInt64(buffer.element.length) != buffer.chain.writableBytes {
                    messages.append(
                        "used element \(part): buffer \(part - Int(index) + 1) of \(buffers) of a packet holds "
                            + "\(buffer.element.length) of its \(buffer.chain.writableBytes) bytes; all but the last must be full")
                }
            }
            index = UInt16(end)
        }
        return messages
    }
}
