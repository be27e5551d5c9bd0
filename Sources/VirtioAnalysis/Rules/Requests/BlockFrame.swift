import GuestMemory
import VirtioModel

/// A block request is a device-readable header, data, and a device-writable status byte, so
/// every chain has at least one readable and one writable descriptor.
///
/// Spec: virtio v1.2 §5.2.6 "Device Operation" (request layout).
struct BlockFrame: SummaryRule {
    static let info = RuleInfo(
        id: "BLK-FRAME", severity: .error, section: "5.2.6",
        summary: "a block request has a readable header and a writable status byte",
        party: .driver, evidence: "virtqueue_pop with in_num = 0 or out_num = 0 on a block queue")

    static func check(device: DeviceState?, queue: QueueState, role: QueueRole) -> [SummaryFinding] {
        guard device?.type == .block else { return [] }
        return RequestShape.finding(queue.shapes.readableOnly, of: queue, "had no device-writable status byte")
            + RequestShape.finding(queue.shapes.writableOnly, of: queue, "had no device-readable header")
            + RequestShape.finding(queue.shapes.empty, of: queue, "were empty")
    }
}

extension BlockFrame: SnapshotRule {
    /// In a dump: each whole owned chain on a block queue has a 16-byte device-readable header
    /// first and a device-writable status byte last; an IN request has no readable data and
    /// an OUT request no writable data before its status byte.
    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block else { return [] }
        return queue.wholeChains.compactMap { chain in
            let head = "chain at head \(chain.head)"
            guard let first = chain.elements.first, let last = chain.elements.last else { return "\(head) is empty" }
            if first.descriptor.flags.contains(.write) || chain.readableBytes < UInt64(BlockRequestType.headerSize) {
                return "\(head) does not start with a 16-byte device-readable header (\(chain.readableBytes) readable bytes)"
            }
            if !last.descriptor.flags.contains(.write) || last.descriptor.length == 0 {
                return "\(head) does not end with a device-writable status byte"
            }
            switch Self.requestType(of: chain, memory: queue.memory) {
            case .read? where chain.readableBytes > UInt64(BlockRequestType.headerSize):
                return "\(head): IN request with \(chain.readableBytes - 16) device-readable bytes after its header"
            case .write? where chain.writableBytes > 1:
                return "\(head): OUT request with \(chain.writableBytes - 1) device-writable bytes before its status"
            default: return nil
            }
        }
    }

    /// The type in a chain's request header, when it is one vqscope knows and in the dump.
    static func requestType(of chain: DescriptorChain, memory: GuestMemoryMap) -> BlockRequestType? {
        guard let header = OwnedBuffers.header(of: chain, count: 4, memory: memory) else { return nil }
        let raw = header.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        return BlockRequestType(rawValue: raw)
    }
}

