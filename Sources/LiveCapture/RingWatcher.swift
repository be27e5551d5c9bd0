import GuestMemory
import VirtioAnalysis
import VirtioModel

/// One split virtqueue watched in shared guest RAM: each new available entry is decoded as
/// soon as it is seen (the driver may free an indirect table right after completion), and
/// each new used element recorded, with the frame bytes of net queues.
///
/// Spec: virtio v1.2 §2.7.6 (available ring), §2.7.8 (used ring). Both indices start at 0
/// when the queue is set up, and the watcher starts there too: buffers posted before it
/// attached are still in the ring.
struct WatchedQueue {
    let device: String
    let type: DeviceType?
    let index: Int
    let addresses: QueueAddresses
    let features: FeatureBits
    let role: QueueRole
    var nextAvail: UInt16 = 0
    var nextUsed: UInt16 = 0
    /// The chain each head named when it was last made available.
    var chains: [UInt16: DescriptorChain] = [:]
    var availSeen = 0
    var usedSeen = 0
    /// Entries overwritten before the watcher read them (it fell more than a ring behind), and
    /// chains whose head was offered again before the watcher read the first offer (their
    /// descriptors may describe the later request): recorded as stale, without data.
    var missed = 0

    /// Frames are at most 64 KiB plus a 20-byte header; nothing longer is copied.
    static let maximumData = 65_535 + 20

    init(device: String, type: DeviceType?, index: Int, addresses: QueueAddresses, features: FeatureBits, netControlQueue: Int?) {
        self.device = device
        self.type = type
        self.index = index
        self.addresses = addresses
        self.features = features
        self.role = QueueRole.of(index: index, type: type, netControlQueue: netControlQueue)
    }

    private func index(at address: UInt64, memory: GuestMemoryMap) -> UInt16? {
        guard let bytes = try? memory.bytes(at: address, length: 2) else { return nil }
        return UInt16(bytes[0]) | UInt16(bytes[1]) << 8
    }

    /// Reads both indices and records what changed; false when the rings are not in RAM.
    mutating func scan(memory: GuestMemoryMap, writer: RingRecordWriter) -> Bool {
        let size = self.addresses.size
        guard size > 0, let avail = self.index(at: self.addresses.driverArea &+ 2, memory: memory),
            let used = self.index(at: self.addresses.deviceArea &+ 2, memory: memory)
        else { return false }
        // Completions first: a head returned and offered again in the same scan still names its
        // old chain when its used element is read.
        if used != self.nextUsed { self.readUsed(upTo: used, memory: memory, writer: writer) }
        if avail != self.nextAvail { self.readAvail(upTo: avail, memory: memory, writer: writer) }
        return true
    }

    private var location: String { "\"device\": \(JSONText.quoted(self.device)), \"queue\": \(self.index)" }

    /// Where to read from: `next`, or a ring's worth before `target` when the ring has been
    /// overwritten since (what was lost is counted and recorded).
    private mutating func resume(from next: UInt16, to target: UInt16, side: String, writer: RingRecordWriter) -> UInt16 {
        let behind = Int(target &- next)
        guard behind > Int(self.addresses.size) else { return next }
        let lost = behind - Int(self.addresses.size)
        self.missed += lost
        writer.write("{\"kind\": \"missed\", \"t\": \(RingRecordWriter.now()), \(self.location), \"\(side)\": \(lost)}")
        return target &- self.addresses.size
    }

    private mutating func readAvail(upTo target: UInt16, memory: GuestMemoryMap, writer: RingRecordWriter) {
        self.nextAvail = self.resume(from: self.nextAvail, to: target, side: "avail", writer: writer)
        let size = self.addresses.size
        // The heads of every new entry, read first: a head offered twice among them was
        // completed and reused before the first offer could be read.
        var heads: [UInt16] = []
        var index = self.nextAvail
        while index != target {
            let slot = index.quotientAndRemainder(dividingBy: size).remainder
            guard let bytes = try? memory.bytes(at: self.addresses.driverArea &+ 4 &+ UInt64(slot) * 2, length: 2) else { return }
            heads.append(UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
            index &+= 1
        }
        var lastOffer: [UInt16: Int] = [:]
        for (position, head) in heads.enumerated() { lastOffer[head] = position }
        for (position, head) in heads.enumerated() {
            guard lastOffer[head] == position else {
                writer.write(
                    "{\"kind\": \"avail\", \"t\": \(RingRecordWriter.now()), \(self.location), \"index\": \(self.nextAvail), "
                        + "\"head\": \(head), \"stale\": true}")
                self.missed += 1
                self.availSeen += 1
                self.nextAvail &+= 1
                continue
            }
            let chain = DescriptorChain(
                head: head, table: self.addresses.descriptorArea, queueSize: size, memory: memory,
                indirectNegotiated: self.features.contains(.indirectDescriptors))
            let descriptors = chain.elements.map {
                "[\($0.descriptor.address), \($0.descriptor.length), \($0.descriptor.flags.rawValue), \($0.indirect ? 1 : 0)]"
            }
            var line = "{\"kind\": \"avail\", \"t\": \(RingRecordWriter.now()), \(self.location), \"index\": \(self.nextAvail), "
                + "\"head\": \(head), \"descriptors\": [\(descriptors.joined(separator: ", "))], \"defects\": \(chain.defects.count)"
            if self.type == .network, self.role == .transmit, chain.defects.isEmpty,
                let data = chain.bytes(writable: false, count: Int(min(chain.readableBytes, UInt64(Self.maximumData))), memory: memory)
            {
                line += ", \"data\": \"\(RingRecordWriter.hex(data))\""
            }
            writer.write(line + "}")
            self.chains[head] = chain
            self.availSeen += 1
            self.nextAvail &+= 1
        }
    }

    private mutating func readUsed(upTo target: UInt16, memory: GuestMemoryMap, writer: RingRecordWriter) {
        self.nextUsed = self.resume(from: self.nextUsed, to: target, side: "used", writer: writer)
        let size = self.addresses.size
        while self.nextUsed != target {
            let slot = self.nextUsed.quotientAndRemainder(dividingBy: size).remainder
            guard let bytes = try? memory.bytes(at: self.addresses.deviceArea &+ 4 &+ UInt64(slot) * 8, length: 8) else { return }
            let id = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[$1]) << (8 * UInt32($1)) }
            let length = (4..<8).reduce(UInt32(0)) { $0 | UInt32(bytes[$1]) << (8 * UInt32($1 - 4)) }
            var line = "{\"kind\": \"used\", \"t\": \(RingRecordWriter.now()), \(self.location), \"index\": \(self.nextUsed), "
                + "\"id\": \(id), \"len\": \(length)"
            if self.type == .network, self.role == .receive, id < UInt32(size), let chain = self.chains[UInt16(id)],
                chain.defects.isEmpty, UInt64(length) <= chain.writableBytes,
                let data = chain.bytes(writable: true, count: min(Int(length), Self.maximumData), memory: memory)
            {
                line += ", \"data\": \"\(RingRecordWriter.hex(data))\""
            }
            writer.write(line + "}")
            self.usedSeen += 1
            self.nextUsed &+= 1
        }
    }
}

/// JSON text for the hand-written lines of the run directory.
enum JSONText {
    static func quoted(_ text: String) -> String { QMPConnection.quoted(text) }
}
