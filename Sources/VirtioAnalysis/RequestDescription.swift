import GuestMemory
import VirtioModel

/// A one-line account of what an owned chain asks the device to do, read from its buffers
/// when the device type is known: `blk READ sector 8 len 4096`, `net TX 98-byte ICMP`,
/// `net RX buffer 1536 bytes`. For people reading `vqscope inspect`; rules do not use it.
enum RequestDescription {
    static func describe(_ chain: DescriptorChain, in queue: QueueSnapshotContext) -> String? {
        guard chain.defects.isEmpty, let type = queue.deviceType else { return nil }
        switch (type, queue.role) {
        case (.block, _): return Self.block(chain, memory: queue.memory)
        case (.network, .transmit): return Self.netTransmit(chain, queue: queue)
        case (.network, .receive): return "net RX buffer \(chain.writableBytes) bytes"
        case (.network, .control): return NetControlInChain(chain, memory: queue.memory).map { "net CTRL \($0.command.name)" }
        case (.entropy, _): return "rng buffer \(chain.writableBytes) bytes"
        case (.console, _):
            return queue.index % 2 == 0 ? "console RX buffer \(chain.writableBytes) bytes" : "console TX \(chain.readableBytes) bytes"
        case (.input, .event): return "input event buffer \(chain.writableBytes) bytes"
        case (.input, .status): return "input status \(chain.readableBytes) bytes"
        default: return nil
        }
    }

    /// `blk READ sector 8 len 4096`: the header's type and sector, and the data length.
    static func block(_ chain: DescriptorChain, memory: GuestMemoryMap) -> String? {
        guard let request = BlockRequestInChain(chain, memory: memory) else { return nil }
        guard let known = request.type else { return "blk type \(request.rawType)" }
        switch known {
        case .read: return "blk READ sector \(request.sector) len \(request.dataBytes)"
        case .write: return "blk WRITE sector \(request.sector) len \(request.dataBytes)"
        default: return "blk \(known.name)"
        }
    }

    /// `net TX 98-byte ICMP`: the frame after the virtio_net_hdr and what it carries.
    static func netTransmit(_ chain: DescriptorChain, queue: QueueSnapshotContext) -> String? {
        // Without the features, VERSION_1's 12 bytes (what every modern driver uses).
        let headerSize = queue.features.map { NetHeader.size(features: $0) } ?? 12
        guard chain.readableBytes >= UInt64(headerSize) else { return nil }
        let frameLength = chain.readableBytes - UInt64(headerSize)
        let bytes = OwnedBuffers.readablePrefix(of: chain, count: headerSize + 24, memory: queue.memory) ?? []
        let frame = Array(bytes.dropFirst(headerSize))
        return "net TX \(frameLength)-byte " + Self.payload(frame)
    }

    /// What an Ethernet frame's first 24 bytes say it carries.
    static func payload(_ frame: [UInt8]) -> String {
        guard frame.count >= 14 else { return "frame" }
        let etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
        switch etherType {
        case 0x0806: return "ARP"
        case 0x0800:
            guard frame.count >= 24 else { return "IPv4" }
            return [1: "ICMP", 6: "TCP", 17: "UDP"][frame[23]] ?? "IPv4"
        case 0x86DD:
            guard frame.count >= 21 else { return "IPv6" }
            return [58: "ICMPv6", 6: "TCP", 17: "UDP"][frame[20]] ?? "IPv6"
        default: return "frame (ethertype 0x\(String(etherType, radix: 16)))"
        }
    }
}
