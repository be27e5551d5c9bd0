import FoundationEssentials
import TraceSources
import VirtioAnalysis
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// Reads a run directory's `rings.jsonl` line by line with bounded memory (``LineReader``).
enum RingRecordReader {
    struct Defect: Decodable {
        var rule: String
        var message: String
    }

    struct Line: Decodable {
        var kind: String
        var t: Int64?
        var device: String?
        var type: String?
        var queue: Int?
        var features: UInt64?
        /// Queue lines: where the descriptor area is (guest-physical).
        var desc: UInt64?
        var role: String?
        var size: Int?
        var index: Int?
        var head: Int?
        var id: Int?
        var len: Int?
        var data: String?
        var writable: UInt64?
        var stale: Bool?
        var late: Bool?
        var defects: [Defect]?
        var avail: Int?
        var used: Int?
        /// Queue lines: a packed ring.
        var packed: Bool?
        /// Packed used descriptors: VIRTQ_DESC_F_WRITE was set (without it `len` is reserved).
        var write: Bool?
        /// Used lines: the offer completed was never read (it was missed).
        var unread: Bool?
        /// Used lines of net receive queues: the buffer was offered again before its bytes
        /// were copied (counted as missed), and when the copy was complete.
        var refilled: Bool?
        var copied: Int64?
        /// Avail lines of packed lists whose used descriptor came first (out of order).
        var completed: Bool?
        /// Missed lines: a packed ring's completions before it was found.
        var beforeAttach: Bool?
        /// Touched lines: the chain's data descriptors as offered and as found later
        /// (`[address, length, flags]` each).
        var offered: [[UInt64]]?
        var now: [[UInt64]]?
        /// Awaiting lines: the notification awaited (`available`, `used`), the ring index the
        /// entries reached, when the waiting side was found waiting, when the entries were seen,
        /// and the last scan that saw its event index unchanged.
        var notification: String?
        var reached: Int?
        var from: Int64?
        var seen: Int64?
        var last: Int64?
        /// Awaiting lines: the wait was followed through used.flags (no EVENT_IDX).
        var flags: Bool?
        /// Suspended lines: avail.idx went back, from this (what had been read) to `avail`.
        var availBefore: Int?
        /// Suspended lines: used.idx went back, from this (what had been read) to `used`.
        var usedBefore: Int?
    }

    /// The longest line the recorder writes is a frame of 64 KiB in hex with its descriptors;
    /// anything longer is not a ring record, and is skipped without being held.
    static let maximumLineLength = 1 << 20
    /// Lines that could not be read are counted; this many are named.
    static let namedProblems = 20

    /// What reading a `rings.jsonl` found besides its records.
    struct Reading {
        /// The lines that could not be decoded (the first ``namedProblems`` by number, then how many more).
        var problems: [String] = []
        /// The number of the last line when the file ends inside it and it does not decode: a
        /// recorder killed outright stops mid-line. Not read, and not a problem.
        var cutOffLine: Int?
    }

    /// Calls `body` with each decoded line and its number.
    static func forEach(path: String, _ body: (Line, Int) -> Void) throws(RecordError) -> Reading {
        var reader: LineReader
        do {
            reader = LineReader(input: try InputFile(path: path), maximumLineLength: Self.maximumLineLength)
        } catch {
            throw .io("\(path): \(error)")
        }
        var reading = Reading()
        var unnamed = 0
        let decoder = JSONDecoder()
        while true {
            let slice: LineSlice?
            do {
                slice = try reader.next()
            } catch {
                throw .io("\(path): \(error)")
            }
            guard let slice else { break }
            let record = slice.overlong || slice.bytes.isEmpty ? nil : try? decoder.decode(Line.self, from: Data(slice.bytes))
            guard let record else {
                if slice.bytes.isEmpty, !slice.overlong { continue }
                if slice.unterminated, !slice.overlong {
                    reading.cutOffLine = slice.number
                } else if reading.problems.count < Self.namedProblems {
                    reading.problems.append("\(path):\(slice.number): \(slice.overlong ? "a line over 1 MiB" : "not a ring record")")
                } else {
                    unnamed += 1
                }
                continue
            }
            body(record, slice.number)
        }
        if unnamed > 0 { reading.problems.append("\(path): \(unnamed) more lines that are not ring records") }
        return reading
    }
}

/// The frames of a recorded run (`rings.jsonl` of `vqscope record`): every transmit chain as
/// the driver made it available, and every received packet as the device used its buffers
/// (with MRG_RXBUF, `num_buffers` consecutive used buffers joined), each with its
/// virtio_net_hdr removed and the time the recorder saw it.
public enum RecordedFrames {
    struct QueueKey: Hashable {
        var device: String
        var queue: Int
    }

    struct QueueInfo {
        var features: FeatureBits
        var role: QueueRole
        var headerSize: Int
    }

    /// A received packet whose buffers are still being collected.
    struct Pending {
        var first: Int
        var head: Int
        var time: Int64
        var expected: Int
        var bytes: [UInt8]
    }

    /// Calls `body` with each frame and the time (CLOCK_REALTIME ns) it was seen; returns
    /// why frames were skipped (a missing or undecodable data field, a packet cut by a reset).
    /// A buffer copied while offered again (`refilled`) is taken only when its line is one of
    /// `whole` (``RecordedRun/wholeCopies(directory:analysis:)``).
    public static func read(
        path: String, whole: Set<Int> = [], _ body: (NetFrame, Int64) -> Void
    ) throws(RecordError) -> (problems: [String], cutOffLine: Int?) {
        var queues: [QueueKey: QueueInfo] = [:]
        var pending: [QueueKey: Pending] = [:]
        var problems: [String] = []
        var unnamed = 0
        // The first problems are named, the rest counted: memory stays bounded whatever the file.
        func note(_ problem: String) {
            if problems.count < RingRecordReader.namedProblems { problems.append(problem) } else { unnamed += 1 }
        }
        let reading = try RingRecordReader.forEach(path: path) { record, number in
            guard let device = record.device, let queue = record.queue else {
                if record.kind == "reset", let device = record.device { pending = pending.filter { $0.key.device != device } }
                return
            }
            let key = QueueKey(device: device, queue: queue)
            switch record.kind {
            case "queue":
                guard record.type == DeviceType.network.shortName else { return }
                guard queues[key] != nil || queues.count < Self.maximumQueues else {
                    note("\(path):\(number): more than \(Self.maximumQueues) net queues: this one is not exported")
                    return
                }
                let features = FeatureBits(rawValue: record.features ?? 0)
                queues[key] = QueueInfo(
                    features: features, role: record.role.flatMap(QueueRole.init(rawValue:)) ?? .unknown,
                    headerSize: NetHeader.size(features: features))
                pending[key] = nil
            case "avail":
                guard let info = queues[key], info.role == .transmit, let hex = record.data else { return }
                guard let bytes = Self.bytes(hex), bytes.count > info.headerSize, let header = try? NetHeader(bytes: Array(bytes.prefix(10)))
                else {
                    note("\(path):\(number): a transmitted chain without a frame after its header")
                    return
                }
                body(
                    NetFrame(
                        device: device, queue: queue, direction: .transmit, origin: .recorded, head: UInt16(truncatingIfNeeded: record.head ?? 0),
                        usedIndex: nil, header: header, bufferCount: NetHeader.numBuffers(in: bytes, headerSize: info.headerSize),
                        bytes: Array(bytes.dropFirst(info.headerSize))),
                    record.t ?? 0)
            case "used":
                guard let info = queues[key], info.role == .receive else { return }
                // Its offer was not read, or its buffer offered again before the bytes were
                // copied and the trace does not show the copy whole: no bytes to export.
                if record.unread == true || (record.refilled == true && !whole.contains(number)) {
                    pending[key] = nil
                    return
                }
                guard let hex = record.data, let bytes = Self.bytes(hex) else {
                    note("\(path):\(number): a used receive buffer without its bytes")
                    pending[key] = nil
                    return
                }
                if var packet = pending[key] {
                    // A frame is at most 64 KiB with its header: more buffers than that hold is not one.
                    guard packet.bytes.count + bytes.count <= WatchedQueue.maximumData else {
                        note("\(path):\(number): a received packet of more than 64 KiB (num_buffers \(packet.expected) to go)")
                        pending[key] = nil
                        return
                    }
                    packet.bytes += bytes
                    pending[key] = packet
                } else {
                    let merged = info.features.contains(.netMergeableRxBuffers)
                    let buffers = merged ? Int(NetHeader.numBuffers(in: bytes, headerSize: info.headerSize) ?? 1) : 1
                    pending[key] = Pending(
                        first: record.index ?? 0, head: record.id ?? 0, time: record.t ?? 0, expected: max(buffers, 1), bytes: bytes)
                }
                guard var packet = pending[key] else { return }
                packet.expected -= 1
                pending[key] = packet.expected > 0 ? packet : nil
                guard packet.expected == 0 else { return }
                guard packet.bytes.count > info.headerSize, let header = try? NetHeader(bytes: Array(packet.bytes.prefix(10))) else {
                    note("\(path):\(number): a received packet without a frame after its header")
                    return
                }
                body(
                    NetFrame(
                        device: device, queue: queue, direction: .receive, origin: .recorded, head: UInt16(truncatingIfNeeded: packet.head),
                        usedIndex: UInt16(truncatingIfNeeded: packet.first), header: header,
                        bufferCount: NetHeader.numBuffers(in: packet.bytes, headerSize: info.headerSize), bytes: Array(packet.bytes.dropFirst(info.headerSize))),
                    packet.time)
            default: return
            }
        }
        return (reading.problems + problems + (unnamed > 0 ? ["\(path): \(unnamed) more frames skipped"] : []), reading.cutOffLine)
    }

    /// Net queues followed at once (a run has a handful; a hostile file could name millions).
    static let maximumQueues = 4096


    static func bytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
