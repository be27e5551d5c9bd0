import GuestMemory
import VirtioModel

/// One network frame found in a net device's queues, with what the driver or device said
/// about it in its virtio_net_hdr.
public struct NetFrame: Sendable {
    public enum Direction: String, Sendable {
        case transmit = "tx"
        case receive = "rx"
    }

    /// Where the frame was found: a transmit chain the device owns (not yet sent), or
    /// completed receive buffers that still describe their packet (see ``CompletedChains``).
    public enum Origin: String, Sendable {
        case inFlight = "in-flight"
        case completed
        /// Recorded live by `vqscope record` as the ring changed.
        case recorded
    }

    public var device: String?
    public var queue: Int
    public var direction: Direction
    public var origin: Origin
    /// The chain's head (a packed list's first slot); for a received packet of several
    /// buffers, its first buffer's.
    public var head: UInt16
    /// The used ring index of a received frame (its first buffer's), for its completion time.
    public var usedIndex: UInt16?
    /// The common 10 bytes of the virtio_net_hdr.
    public var header: NetHeader
    /// `num_buffers`, where the header has it (12 bytes or more).
    public var bufferCount: UInt16?
    /// The Ethernet frame, the header removed.
    public var bytes: [UInt8]

    public init(
        device: String?, queue: Int, direction: Direction, origin: Origin, head: UInt16, usedIndex: UInt16?,
        header: NetHeader, bufferCount: UInt16?, bytes: [UInt8]
    ) {
        self.device = device
        self.queue = queue
        self.direction = direction
        self.origin = origin
        self.head = head
        self.usedIndex = usedIndex
        self.header = header
        self.bufferCount = bufferCount
        self.bytes = bytes
    }
}

/// Finds the frames in a dump's net queues: transmit chains the device owns (their
/// device-readable bytes), and received packets in completed buffers that still describe
/// them (the bytes the device wrote, `len` of each used element, buffers of a packet joined
/// in order), each with its virtio_net_hdr of the negotiated size removed
/// (§5.1.6: 12 bytes with VERSION_1 or MRG_RXBUF, 10 without, 20 with HASH_REPORT). What
/// cannot be exported whole is skipped with a PCAP-FRAME-SKIPPED finding.
///
/// Spec: virtio v1.2 §5.1.6 (device operation), §5.1.6.4 (receiving packets).
public enum NetFrames {
    /// Frames longer than this (64 KiB) are skipped: the most a virtio_net_hdr's GSO packet
    /// carries, and pcap's snapshot length.
    public static let maximumFrame = 65_535

    static let skipped = RuleInfo(
        id: "PCAP-FRAME-SKIPPED", severity: .warning, section: "n/a",
        summary: "a frame found in a net queue could not be exported whole",
        party: .input, evidence: "the net queues of a dump, read for `vqscope pcap`")

    /// Calls `body` with each frame of the report's net queues, queue by queue (transmit
    /// frames in ring order, then received ones oldest first); returns the findings for the
    /// frames skipped and how many frames could not be read because their buffers were
    /// reused (not findings: one snapshot cannot see them).
    public static func extract(
        from report: InspectionReport, memory: GuestMemoryMap, _ body: (NetFrame) -> Void
    ) -> (findings: [Finding], unreadable: Int) {
        var findings: [Finding] = []
        var unreadable = 0
        for queue in report.queues where queue.deviceType == .network {
            guard let features = queue.features, queue.role == .transmit || queue.role == .receive else { continue }
            let headerSize = NetHeader.size(features: features)
            func skip(_ head: UInt16, _ reason: String) {
                findings.append(
                    Finding(
                        rule: Self.skipped, message: "\(queue.role == .transmit ? "TX" : "RX") chain at head \(head): \(reason)",
                        location: Location(file: report.dump, device: queue.device, queue: queue.queue)))
            }
            func frame(_ bytes: [UInt8], head: UInt16, direction: NetFrame.Direction, origin: NetFrame.Origin, used: UInt16?) {
                guard bytes.count >= headerSize else {
                    return skip(head, "\(bytes.count) bytes, shorter than the \(headerSize)-byte virtio_net_hdr")
                }
                guard bytes.count > headerSize else { return skip(head, "a virtio_net_hdr and no frame (zero length)") }
                guard let header = try? NetHeader(bytes: Array(bytes.prefix(10))) else { return }
                let count = NetHeader.numBuffers(in: bytes, headerSize: headerSize)
                body(
                    NetFrame(
                        device: queue.device, queue: queue.queue, direction: direction, origin: origin, head: head,
                        usedIndex: used, header: header, bufferCount: count, bytes: Array(bytes.dropFirst(headerSize))))
            }
            if queue.role == .transmit {
                // Only chains the device has yet to send: a sent frame's buffer is the driver's
                // again (Linux frees the skb), so its bytes may be anything by now.
                for chain in queue.chains where chain.defects.isEmpty {
                    guard chain.readableBytes <= UInt64(Self.maximumFrame + headerSize) else {
                        skip(chain.head, "\(chain.readableBytes) bytes, a frame over 64 KiB")
                        continue
                    }
                    guard let bytes = OwnedBuffers.prefix(of: chain, writable: false, count: Int(chain.readableBytes), memory: memory)
                    else {
                        skip(chain.head, "its buffers are not (wholly) in the dump")
                        continue
                    }
                    frame(bytes, head: chain.head, direction: .transmit, origin: .inFlight, used: nil)
                }
                continue
            }
            guard let usedIndex = queue.usedIndex else { continue }
            let packets = ReceivedPackets(
                completed: queue.completed, usedIndex: usedIndex, allCompletionsInRing: queue.allCompletionsInRing,
                features: features, memory: memory)
            unreadable += queue.undecidedCompletions
            for packet in packets.packets {
                guard let first = packet.buffers.first else { continue }
                guard packet.isWhole else {
                    unreadable += 1
                    continue
                }
                let written = packet.buffers.reduce(UInt64(0)) { $0 + UInt64($1.element.length) }
                if let over = packet.buffers.first(where: { UInt64($0.element.length) > $0.chain.writableBytes }) {
                    skip(
                        over.chain.head,
                        "the device claims \(over.element.length) bytes written into \(over.chain.writableBytes) writable")
                    continue
                }
                guard written <= UInt64(Self.maximumFrame + headerSize) else {
                    skip(first.chain.head, "\(written) bytes, a frame over 64 KiB")
                    continue
                }
                var bytes: [UInt8] = []
                var readable = true
                for buffer in packet.buffers {
                    guard
                        let part = OwnedBuffers.prefix(
                            of: buffer.chain, writable: true, count: Int(buffer.element.length), memory: memory)
                    else {
                        readable = false
                        break
                    }
                    bytes += part
                }
                guard readable else {
                    skip(first.chain.head, "its buffers are not (wholly) in the dump")
                    continue
                }
                frame(bytes, head: first.chain.head, direction: .receive, origin: .completed, used: packet.firstIndex)
            }
        }
        return (findings, unreadable)
    }
}
