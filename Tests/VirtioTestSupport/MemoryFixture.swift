import Foundation
import GuestMemory
import VirtioAnalysis
import VirtioModel

/// A guest memory image described in JSON (the hand-written fixtures of the rules that read
/// memory, `traces/rules/<ID>/*.handwritten.json`):
///
/// ```json
/// { "base": "0x40000000", "size": 65536,
///   "queue": { "desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": 8 },
///   "eventIdx": false, "indirect": true,
///   "descriptors": [ { "table": "0x40001000", "index": 0, "addr": "0x40008000", "len": 16,
///                      "flags": ["next", "write", "indirect"], "next": 1 } ],
///   "avail": { "flags": 0, "idx": 1, "ring": [0] },
///   "used": { "flags": 0, "idx": 0, "ring": [[0, 0]] },
///   "device": "blk", "features": ["VIRTIO_F_VERSION_1", "VIRTIO_BLK_F_FLUSH"],
///   "bytes": [ { "addr": "0x40008000", "values": [4, 0, 0, 0] } ] }
/// ```
///
/// With `"packed": true` the queue is a packed one: `queue.avail` and `queue.used` are the
/// driver and device event suppression structures, `descriptors` are packed descriptors
/// (`"id"` and the flags `avail` and `used` too), and `driverEvent` / `deviceEvent` give
/// `{"offset": N, "wrap": 0|1, "flags": N}`; a descriptor with `"table"` sits in that indirect
/// table instead of the ring, and `lastAvailIdx` (QMP's `last-avail-idx`) is the slot the
/// device reads next, from which the available lists are walked.
///
/// `queue.index` (default 0) is the queue's index in its device; `device` (a short name as
/// `--device` takes) and `features` (spec names, all negotiated features) enable the checks
/// of request contents; `capacity` (sectors) is a block device's capacity; `bytes` puts bytes
/// (a request header, say) at an address.
public struct MemoryFixture {
    public let base: UInt64
    public let bytes: [UInt8]
    public let queue: QueueAddresses
    /// The queue's index in its device.
    public let index: Int
    /// How many descriptors the layout writes (in the queue's table and indirect tables).
    public let descriptorCount: Int
    public let options: Inspector.Options
    /// Where the device reads next (a packed queue's slot), when the layout says.
    public let lastAvailIndex: UInt16?

    public struct LayoutError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(json text: String) throws {
        guard let root = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw LayoutError(description: "not a JSON object")
        }
        func number(_ value: Any?) throws -> UInt64 {
            if let int = value as? Int, int >= 0 { return UInt64(int) }
            if let string = value as? String, string.hasPrefix("0x"), let parsed = UInt64(string.dropFirst(2), radix: 16) {
                return parsed
            }
            throw LayoutError(description: "not a number: \(String(describing: value))")
        }
        let base = try number(root["base"])
        var bytes = [UInt8](repeating: 0, count: Int(try number(root["size"])))
        func put(_ value: UInt64, width: Int, at address: UInt64) throws {
            guard address >= base, Int(address - base) + width <= bytes.count else {
                throw LayoutError(description: "0x\(String(address, radix: 16)) is outside the image")
            }
            for index in 0..<width { bytes[Int(address - base) + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
        }
        guard let queue = root["queue"] as? [String: Any] else { throw LayoutError(description: "no queue") }
        let addresses = QueueAddresses(
            descriptorArea: try number(queue["desc"]), driverArea: try number(queue["avail"]),
            deviceArea: try number(queue["used"]), size: UInt16(try number(queue["size"])))
        let eventIndex = root["eventIdx"] as? Bool ?? false
        let packed = root["packed"] as? Bool ?? false
        for case let descriptor as [String: Any] in root["descriptors"] as? [Any] ?? [] where packed {
            let at = try number(descriptor["table"] ?? queue["desc"]) + (try number(descriptor["index"])) * 16
            let flags = (descriptor["flags"] as? [String] ?? []).reduce(UInt64(0)) {
                let bits: [String: UInt64] = ["next": 1, "write": 2, "indirect": 4, "avail": 1 << 7, "used": 1 << 15]
                return $0 | (bits[$1] ?? 0)
            }
            try put(try number(descriptor["addr"]), width: 8, at: at)
            try put(try number(descriptor["len"]), width: 4, at: at + 8)
            try put(try number(descriptor["id"] ?? 0), width: 2, at: at + 12)
            try put(flags, width: 2, at: at + 14)
        }
        for (key, address) in [("driverEvent", addresses.driverArea), ("deviceEvent", addresses.deviceArea)] where packed {
            guard let event = root[key] as? [String: Any] else { continue }
            let offWrap = try number(event["offset"] ?? 0) | (try number(event["wrap"] ?? 0)) << 15
            try put(offWrap, width: 2, at: address)
            try put(try number(event["flags"] ?? 0), width: 2, at: address + 2)
        }
        for case let descriptor as [String: Any] in root["descriptors"] as? [Any] ?? [] where !packed {
            let table = try number(descriptor["table"] ?? queue["desc"])
            let index = try number(descriptor["index"])
            let at = table + index * 16
            let flags = (descriptor["flags"] as? [String] ?? []).reduce(UInt64(0)) {
                $0 | ($1 == "next" ? 1 : $1 == "write" ? 2 : $1 == "indirect" ? 4 : 0)
            }
            try put(try number(descriptor["addr"]), width: 8, at: at)
            try put(try number(descriptor["len"]), width: 4, at: at + 8)
            try put(flags, width: 2, at: at + 12)
            try put(try number(descriptor["next"] ?? 0), width: 2, at: at + 14)
        }
        if let avail = root["avail"] as? [String: Any] {
            try put(try number(avail["flags"] ?? 0), width: 2, at: addresses.driverArea)
            try put(try number(avail["idx"] ?? 0), width: 2, at: addresses.driverArea + 2)
            for (slot, head) in (avail["ring"] as? [Any] ?? []).enumerated() {
                try put(try number(head), width: 2, at: addresses.driverArea + 4 + UInt64(slot) * 2)
            }
        }
        for case let run as [String: Any] in root["bytes"] as? [Any] ?? [] {
            let address = try number(run["addr"])
            for (offset, value) in (run["values"] as? [Any] ?? []).enumerated() {
                try put(try number(value), width: 1, at: address + UInt64(offset))
            }
        }
        if let used = root["used"] as? [String: Any] {
            try put(try number(used["flags"] ?? 0), width: 2, at: addresses.deviceArea)
            try put(try number(used["idx"] ?? 0), width: 2, at: addresses.deviceArea + 2)
            for (slot, element) in (used["ring"] as? [[Any]] ?? []).enumerated() where element.count == 2 {
                try put(try number(element[0]), width: 4, at: addresses.deviceArea + 4 + UInt64(slot) * 8)
                try put(try number(element[1]), width: 4, at: addresses.deviceArea + 8 + UInt64(slot) * 8)
            }
        }
        self.base = base
        self.bytes = bytes
        self.queue = addresses
        self.index = Int(try number(queue["index"] ?? 0))
        self.descriptorCount = (root["descriptors"] as? [Any])?.count ?? 0
        self.lastAvailIndex = try root["lastAvailIdx"].map { UInt16(try number($0)) }
        let device = try (root["device"] as? String).map {
            guard let type = DeviceType(name: $0) else { throw LayoutError(description: "unknown device \($0)") }
            return type
        }
        let features = (root["features"] as? [String]).map { FeatureBits(names: $0, device: device) }
        var options = Inspector.Options(
            eventIndex: eventIndex, indirectNegotiated: root["indirect"] as? Bool, deviceType: device, features: features,
            netControlQueue: (root["netControlQueue"] as? Int))
        options.packed = packed
        options.blockCapacity = try root["capacity"].map { try number($0) }
        options.netMTU = try root["mtu"].map {
            guard let mtu = UInt16(exactly: try number($0)) else { throw LayoutError(description: "mtu \($0) is not 16 bits") }
            return mtu
        }
        self.options = options
    }

    /// Writes the image to a temporary raw file and inspects its queue.
    public func inspect() throws -> InspectionReport {
        let file = TemporaryFile(bytes: self.bytes, name: "mem.raw")
        defer { file.remove() }
        let memory = try GuestMemoryDump.open(path: file.path, base: self.base)
        return Inspector.inspect(
            memory: memory, dump: file.path, queues: [
                QueueTarget(addresses: self.queue, queue: self.index, options: self.options, lastAvailIndex: self.lastAvailIndex)
            ])
    }
}

extension MemoryFixture {
    /// The frames `vqscope pcap` would export from the image's queue, and its findings.
    public func frames() throws -> (frames: [NetFrame], findings: [Finding], unreadable: Int) {
        let file = TemporaryFile(bytes: self.bytes, name: "mem.raw")
        defer { file.remove() }
        let memory = try GuestMemoryDump.open(path: file.path, base: self.base)
        let report = Inspector.inspect(
            memory: memory, dump: file.path,
            queues: [
                QueueTarget(addresses: self.queue, queue: self.index, options: self.options, lastAvailIndex: self.lastAvailIndex)
            ])
        var frames: [NetFrame] = []
        let (findings, unreadable) = NetFrames.extract(from: report, memory: memory) { frames.append($0) }
        return (frames, findings, unreadable)
    }

    /// `vqscope analyze TRACE --dump IMAGE`: the trace analysed, this image inspected at the
    /// queues the trace shows being programmed, and the two joined.
    public func joined(withTrace path: String) throws -> AnalysisReport {
        var report = try analyze(path)
        let file = TemporaryFile(bytes: self.bytes, name: "mem.raw")
        defer { file.remove() }
        let memory = try GuestMemoryDump.open(path: file.path, base: self.base)
        let targets = QueueDiscovery.fromTrace(report, flags: self.options).targets
        report.join(Inspector.inspect(memory: memory, dump: file.path, queues: targets, trace: report))
        return report
    }
}
