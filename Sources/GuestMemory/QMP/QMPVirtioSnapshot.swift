#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VirtioModel

/// One virtqueue as QEMU described it in an `x-query-virtio-queue-status` reply.
public struct QMPVirtioQueue: Sendable, Equatable {
    /// `queue-index`.
    public var index: Int
    /// `vring-desc`, `vring-avail`, `vring-used` and `vring-num`.
    public var addresses: QueueAddresses
    /// QEMU's copy of the used ring's `idx` (`used-idx`).
    public var usedIndex: UInt16
    /// Chains QEMU has popped and not yet pushed back (`inuse`).
    public var inUse: Int
    /// Where QEMU reads next (`last-avail-idx`): a split queue's available ring index, a
    /// packed queue's ring slot (QEMU keeps its wrap counter apart and does not report it).
    /// Nil when the reply leaves it out.
    public var lastAvailIndex: UInt16?
}

/// A virtio device as QEMU described it over QMP: `x-query-virtio` (name and QOM path),
/// `x-query-virtio-status` (negotiated features, number of queues) and
/// `x-query-virtio-queue-status` (each queue's rings).
public struct QMPVirtioDevice: Sendable, Equatable {
    /// `name`, e.g. `virtio-net`.
    public var name: String
    /// The QOM path of the device's virtio backend, when the replies name it.
    public var path: String?
    /// The negotiated transport feature names (`guest-features.transports`), without QEMU's
    /// explanations, e.g. `VIRTIO_RING_F_EVENT_IDX`. Nil when no status reply was given.
    public var transportFeatures: [String]?
    /// The negotiated device feature names (`guest-features.dev-features`), e.g.
    /// `VIRTIO_NET_F_MRG_RXBUF`. Nil when no status reply was given.
    public var deviceFeatures: [String]?
    /// The negotiated bits QEMU has no name for (`guest-features.unknown-dev-features`).
    public var unnamedFeatures: UInt64 = 0

    /// The device type QEMU's name implies (`virtio-net`, `virtio-serial`, …).
    public var deviceType: DeviceType? { DeviceType(qemuName: self.name) }

    /// The negotiated features as bits, when a status reply was given.
    public var features: FeatureBits? {
        guard let transports = self.transportFeatures else { return nil }
        return FeatureBits(names: transports + (self.deviceFeatures ?? []), device: self.deviceType)
            .union(FeatureBits(rawValue: self.unnamedFeatures))
    }
    /// The queues with rings set up (`vring-desc` and `vring-num` non-zero), by index.
    public var queues: [QMPVirtioQueue]
    /// A block device's capacity in 512-byte sectors: the `virtual-size` of the image
    /// `query-block` shows inserted at the device, when the transcript has that reply.
    public var blockCapacity: UInt64?
    /// A network device's `mtu` (§5.1.4): QEMU's `host_mtu` property as a `qom-get` of the
    /// device's path answered it (the recorder asks), when set (not 0) and within 16 bits.
    public var netMTU: UInt16?

    /// VIRTIO_F_EVENT_IDX (§6), when the features are known.
    public var eventIndex: Bool? { self.features.map { $0.contains(.eventIndex) } }
    /// VIRTIO_F_INDIRECT_DESC (§6), when the features are known.
    public var indirect: Bool? { self.features.map { $0.contains(.indirectDescriptors) } }
    /// VIRTIO_F_RING_PACKED (§6), when the features are known.
    public var packed: Bool? { self.features.map { $0.contains(.ringPacked) } }

    /// A label for findings: the name, and the QOM path when known.
    public var label: String { self.path.map { "\(self.name)@\($0)" } ?? self.name }
}

/// Reads saved QMP replies about virtio devices: a file, or a directory of `*.json` files
/// read in name order. A file holds one reply (`{"return": …}`) or a transcript: the
/// commands (`{"execute": …, "arguments": {"path": …}}`) and replies as QEMU exchanged them,
/// one after another. A reply is matched to its device by the `path` of the command before
/// it, else by the device name of the last status reply. Other messages (greetings, events,
/// other commands' replies) are skipped.
public enum QMPVirtioSnapshot {
    /// Larger QMP files are refused: real replies are a few KiB each, a whole VM's under 1 MiB.
    public static let maximumFileSize = 16 << 20
    /// More devices than this are refused (QEMU's analysis limit elsewhere in vqscope too).
    public static let maximumDevices = 4_096
    /// More queues of one device than this are refused (QEMU's VIRTIO_QUEUE_MAX).
    public static let maximumQueues = 1_024
    /// More queues in all than this are refused (what `vqscope inspect` inspects at most).
    public static let maximumTotalQueues = 8_192

    public static func read(path: String) throws(MemoryError) -> [QMPVirtioDevice] {
        var builder = Builder()
        let decoder = JSONDecoder()
        for file in try Self.files(at: path) {
            let mapped = try MappedFile(path: file)
            guard mapped.bytes.count <= Self.maximumFileSize else {
                throw .unsupportedFormat(
                    path: file, reason: "\(mapped.bytes.count) bytes: too large for saved QMP replies (at most 16 MiB)")
            }
            try JSONValues.forEach(in: mapped.bytes, path: file) { (offset, value) throws(MemoryError) in
                let message: QMPMessage
                do {
                    message = try decoder.decode(QMPMessage.self, from: value)
                } catch {
                    throw .malformed(path: file, offset: UInt64(offset), reason: "not a QMP message: \(error)")
                }
                guard builder.add(message) else {
                    throw .unsupportedFormat(
                        path: file,
                        reason: "more than \(Self.maximumDevices) virtio devices, \(Self.maximumQueues) queues of one "
                            + "device or \(Self.maximumTotalQueues) queues in all: not the replies of one VM")
                }
            }
        }
        guard !builder.devices.isEmpty else {
            throw .unsupportedFormat(
                path: path,
                reason: "no x-query-virtio-status or x-query-virtio-queue-status reply found (see docs/inspect.md)")
        }
        return builder.devices.map { device in
            var sorted = device
            sorted.queues.sort { $0.index < $1.index }
            // query-block names the device by the QOM path of its virtio backend or of the
            // transport device that holds it.
            if let path = device.path {
                sorted.blockCapacity = Self.blockCapacity(of: path, imageSizes: builder.imageSizes)
                if device.deviceType == .network, let mtu = builder.hostMTUs[path], mtu > 0, mtu <= UInt64(UInt16.max) {
                    sorted.netMTU = UInt16(mtu)
                }
            }
            return sorted
        }
    }

    private static func files(at path: String) throws(MemoryError) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw errno == ENOENT || errno == ENOTDIR ? .missing(path: path) : .unreadable(path: path, errno: errno)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { return [path] }
        guard let directory = opendir(path) else { throw .unreadable(path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".json") && !name.hasPrefix(".") { names.append(name) }
        }
        guard !names.isEmpty else { throw .missing(path: path + "/*.json") }
        return names.sorted().map { path + "/" + $0 }
    }

    /// Groups replies into devices; lookups by path and by name are dictionaries, so a file
    /// of many replies costs time in proportion to its length.
    private struct Builder {
        var devices: [QMPVirtioDevice] = []
        /// Each device's queues by index, until ``read(path:)`` sorts them.
        var queueSlots: [[Int: Int]] = []
        var byPath: [String: Int] = [:]
        /// The last device of each name (replies without a path are matched by name).
        var lastByName: [String: Int] = [:]
        /// Devices of each name without a path yet.
        var pathlessByName: [String: Int] = [:]
        /// The `path` argument of the last command, which the next reply answers, and its
        /// `property` for a `qom-get`.
        var pendingPath: String?
        var pendingProperty: String?
        var lastStatusName: String?
        var totalQueues = 0
        /// `query-block`'s image sizes in bytes, by the `qdev` path of the device they are
        /// inserted in.
        var imageSizes: [String: UInt64] = [:]
        /// `qom-get` replies for `host_mtu`, by the path asked; at most one per device.
        var hostMTUs: [String: UInt64] = [:]

        /// False when a limit is passed.
        mutating func add(_ message: QMPMessage) -> Bool {
            if let command = message.execute {
                self.pendingPath = message.arguments?.path
                self.pendingProperty = command == "qom-get" ? message.arguments?.property : nil
                return true
            }
            guard let reply = message.reply else { return true }
            defer { (self.pendingPath, self.pendingProperty) = (nil, nil) }
            switch reply {
            case .number(let value):
                guard self.pendingProperty == "host_mtu", let path = self.pendingPath else { return true }
                guard self.hostMTUs[path] != nil || self.hostMTUs.count < QMPVirtioSnapshot.maximumDevices else { return false }
                self.hostMTUs[path] = value
            case .blocks(let list):
                self.imageSizes.merge(QMPVirtioSnapshot.imageSizes(Array(list.prefix(QMPVirtioSnapshot.maximumDevices)))) { $1 }
            case .devices(let list):
                for entry in list { guard self.device(name: entry.name, path: entry.path) != nil else { return false } }
            case .status(let status):
                guard let slot = self.device(name: status.name, path: self.pendingPath) else { return false }
                self.devices[slot].transportFeatures = status.guestFeatures.transports.map(QMPVirtioStatusReply.featureName)
                self.devices[slot].deviceFeatures = (status.guestFeatures.devFeatures ?? []).map(QMPVirtioStatusReply.featureName)
                self.devices[slot].unnamedFeatures = status.guestFeatures.unknownDevFeatures ?? 0
                self.lastStatusName = status.name
            case .queue(let queue):
                let path =
                    self.pendingPath
                    ?? (self.lastStatusName == queue.name ? self.lastByName[queue.name].flatMap { self.devices[$0].path } : nil)
                guard let slot = self.device(name: queue.name, path: path) else { return false }
                guard let addresses = queue.addresses else { return true }
                let entry = QMPVirtioQueue(
                    index: queue.queueIndex, addresses: addresses,
                    usedIndex: UInt16(truncatingIfNeeded: queue.usedIdx), inUse: queue.inuse,
                    lastAvailIndex: queue.lastAvailIdx.map { UInt16(truncatingIfNeeded: $0) })
                if let existing = self.queueSlots[slot][entry.index] {
                    self.devices[slot].queues[existing] = entry  // a later reply for the same queue wins
                } else {
                    guard self.devices[slot].queues.count < QMPVirtioSnapshot.maximumQueues,
                        self.totalQueues < QMPVirtioSnapshot.maximumTotalQueues
                    else { return false }
                    self.totalQueues += 1
                    self.queueSlots[slot][entry.index] = self.devices[slot].queues.count
                    self.devices[slot].queues.append(entry)
                }
            }
            return true
        }

        /// QEMU 7.2 follows each name with ": explanation".
        /// The device with this path (or, without one, the last with this name), created if
        /// new; nil past ``QMPVirtioSnapshot/maximumDevices``.
        private mutating func device(name: String, path: String?) -> Int? {
            if let path, let slot = self.byPath[path] { return slot }
            if path == nil, let slot = self.lastByName[name] { return slot }
            if let path, let slot = self.pathlessByName.removeValue(forKey: name) {
                self.devices[slot].path = path
                self.byPath[path] = slot
                return slot
            }
            guard self.devices.count < QMPVirtioSnapshot.maximumDevices else { return nil }
            let slot = self.devices.count
            self.devices.append(
                QMPVirtioDevice(name: name, path: path, transportFeatures: nil, deviceFeatures: nil, queues: []))
            self.queueSlots.append([:])
            self.lastByName[name] = slot
            if let path { self.byPath[path] = slot } else { self.pathlessByName[name] = slot }
            return slot
        }
    }
}

/// The parts of a QMP message vqscope reads.
private struct QMPMessage: Decodable {
    struct Arguments: Decodable {
        var path: String?
        var property: String?
    }

    struct DeviceEntry: Decodable {
        var name: String
        var path: String
    }

    enum Reply {
        /// A number (`qom-get` of an integer property).
        case number(UInt64)
        case blocks([QMPVirtioSnapshot.BlockEntry])
        case devices([DeviceEntry])
        case status(QMPVirtioStatusReply)
        case queue(QMPVirtioQueueReply)
    }

    var execute: String?
    var arguments: Arguments?
    var reply: Reply?

    enum CodingKeys: String, CodingKey {
        case execute, arguments
        case reply = "return"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.execute = try container.decodeIfPresent(String.self, forKey: .execute)
        self.arguments = try? container.decodeIfPresent(Arguments.self, forKey: .arguments)
        // A reply vqscope does not read (another command's) is skipped, not an error.
        if let number = try? container.decode(UInt64.self, forKey: .reply) {
            self.reply = .number(number)
        } else if let list = try? container.decode([DeviceEntry].self, forKey: .reply) {
            self.reply = .devices(list)
        } else if self.execute == nil, let list = try? container.decode([QMPVirtioSnapshot.BlockEntry].self, forKey: .reply),
            list.contains(where: { $0.qdev != nil })
        {
            self.reply = .blocks(list)
        } else if let queue = try? container.decode(QMPVirtioQueueReply.self, forKey: .reply) {
            self.reply = .queue(queue)
        } else if let status = try? container.decode(QMPVirtioStatusReply.self, forKey: .reply) {
            self.reply = .status(status)
        }
    }
}

/// Walks a buffer of concatenated JSON values (JSON Lines, or pretty-printed objects one
/// after another), handing each value and its byte offset to `body` as soon as it ends. Only the nesting and strings are
/// scanned; the decoder checks the rest.
enum JSONValues {
    /// Values nested deeper than this are refused (QMP replies nest 3 or 4 levels).
    static let maximumDepth = 64

    static func forEach(
        in bytes: UnsafeRawBufferPointer, path: String, _ body: (Int, Data) throws(MemoryError) -> Void
    ) throws(MemoryError) {
        var start: Int?
        var depth = 0
        var inString = false
        var escaped = false
        for (offset, byte) in bytes.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if depth == 0 { start = offset }
                depth += 1
                guard depth <= Self.maximumDepth else {
                    throw .malformed(path: path, offset: UInt64(offset), reason: "JSON nested deeper than \(Self.maximumDepth)")
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0, let first = start else {
                    throw .malformed(path: path, offset: UInt64(offset), reason: "unbalanced '\(Character(Unicode.Scalar(byte)))'")
                }
                depth -= 1
                if depth == 0 {
                    try body(first, Data(bytes[first...offset]))
                    start = nil
                }
            case UInt8(ascii: "\""):
                guard depth > 0 else {
                    throw .malformed(path: path, offset: UInt64(offset), reason: "expected a JSON object")
                }
                inString = true
            default:
                guard depth > 0 else {
                    throw .malformed(path: path, offset: UInt64(offset), reason: "expected a JSON object")
                }
            }
        }
        if let first = start {
            throw .malformed(path: path, offset: UInt64(first), reason: "JSON value not closed at the end of the file")
        }
    }
}

extension QMPVirtioSnapshot {
    /// An entry of `query-block`'s reply: the device the drive is attached to, and its image.
    public struct BlockEntry: Decodable, Sendable {
        public struct Inserted: Decodable, Sendable {
            public struct Image: Decodable, Sendable {
                public var virtualSize: UInt64
                enum CodingKeys: String, CodingKey { case virtualSize = "virtual-size" }
            }
            public var image: Image
        }
        public var qdev: String?
        public var inserted: Inserted?
    }

    /// The image sizes (bytes) of a `query-block` reply, by the `qdev` path of their device.
    public static func imageSizes(_ entries: [BlockEntry]) -> [String: UInt64] {
        var sizes: [String: UInt64] = [:]
        for entry in entries {
            guard let qdev = entry.qdev, let size = entry.inserted?.image.virtualSize else { continue }
            sizes[qdev] = size
        }
        return sizes
    }

    /// The capacity in 512-byte sectors of the block device at QOM `path`: `query-block` names
    /// the device by the path of its virtio backend or of the transport device that holds it.
    public static func blockCapacity(of path: String, imageSizes: [String: UInt64]) -> UInt64? {
        let backend = "/virtio-backend"
        let holder = path.hasSuffix(backend) ? String(path.dropLast(backend.count)) : path
        return (imageSizes[path] ?? imageSizes[holder]).map { $0 / UInt64(BlockRequestType.sectorSize) }
    }
}
