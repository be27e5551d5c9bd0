/// Streams a QEMU `simple` backend binary trace (format version 4, `trace/simple.c`) as the
/// same typed events a `log` trace gives, with bounded memory.
///
/// The file is a 24-byte header (`u64` all ones, the magic `0xf2b177cb0aa429b4`, the version)
/// and records, each a `u64` type then: a mapping (type 0: `u64` event id, `u32` name length,
/// the name), which gives a run-time event id its name and may come anywhere; or an event
/// (type 1: `u64` event id, `u64` timestamp in ns of CLOCK_MONOTONIC, `u32` length of this
/// part, `u32` pid, then the arguments: a `u64` each, or a `u32` length and the bytes of a
/// string). The event id `0xfffffffffffffffe` reports events QEMU dropped. Integers are the
/// host's byte order: little-endian here (x86_64, arm64).
struct SimpleTraceReader {
    static let magic: UInt64 = 0xf2b1_77cb_0aa4_29b4
    static let headerEventID: UInt64 = .max
    static let droppedEventID: UInt64 = 0xffff_ffff_ffff_fffe
    /// A record longer than this is refused (QEMU's longest is a few hundred bytes: strings
    /// are cut at 512).
    static let maximumRecord = 1 << 20
    /// Mappings of names vqscope does not decode are remembered up to this many ids (to tell
    /// "another subsystem's event" from "no mapping"); past it, unmapped ids count as others.
    static let maximumForeignIDs = 65_536

    let input: InputFile
    let path: String
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEOF = false
    /// Bytes consumed before `buffer[start]`.
    private(set) var offset: UInt64 = 0
    private var kinds: [UInt64: (EventKind, String)] = [:]
    private var foreign: Set<UInt64> = []
    private var record = 0
    private let decoder = QEMULogDecoder()
    private var readHeader = false
    private var reportedUnmapped: Set<UInt64> = []

    init(input: InputFile, path: String) {
        self.input = input
        self.path = path
    }

    var records: Int { self.record }

    /// True when `head` (the file's first bytes) is a `simple` trace's header.
    static func isSimpleTrace(_ head: [UInt8]) -> Bool {
        head.count >= 16 && Self.little(head, 0, 8) == Self.headerEventID && Self.little(head, 8, 8) == Self.magic
    }

    static func little(_ bytes: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }

    /// Makes `count` bytes available from `start`; false at the end of the input.
    private mutating func ensure(_ count: Int) throws(InputError) -> Bool {
        while self.buffer.count - self.start < count {
            if self.atEOF { return false }
            if self.start > 0 {
                self.buffer.removeFirst(self.start)
                self.start = 0
            }
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1 << 16, count), alignment: 1)
            defer { chunk.deallocate() }
            let got = try self.input.read(into: chunk)
            if got == 0 { self.atEOF = true } else { self.buffer += chunk[0..<got] }
        }
        return true
    }

    private mutating func take(_ width: Int) -> UInt64 {
        let value = Self.little(self.buffer, self.start, width)
        self.start += width
        self.offset += UInt64(width)
        return value
    }

    private mutating func skip(_ count: Int) {
        self.start += count
        self.offset += UInt64(count)
    }

    private func problem(_ reason: String, at offset: UInt64) -> TraceItem {
        .problem(InputProblem(kind: .malformed(reason), line: self.record, offset: offset))
    }

    /// The next item: a decoded event, a problem (with the record number as its "line" and
    /// the byte offset), or an event of no interest (`nil` item with `other` true), or the end.
    mutating func next(statistics: inout InputStatistics) throws(InputError) -> TraceItem? {
        if !self.readHeader {
            self.readHeader = true
            guard try self.ensure(24) else {
                throw .undecodable(path: self.path, offset: 0, reason: "a simple trace shorter than its 24-byte header")
            }
            _ = self.take(8)
            _ = self.take(8)
            let version = self.take(8)
            guard version == 4 else {
                throw .undecodable(
                    path: self.path, offset: 16,
                    reason: "simple trace format version \(version); vqscope reads version 4 (QEMU 2.9 and later)")
            }
        }
        while true {
            let at = self.offset
            guard try self.ensure(8) else { return nil }
            let type = self.take(8)
            self.record += 1
            statistics.lines = self.record
            statistics.bytes = self.offset
            switch type {
            case 0:
                guard try self.ensure(12) else { return self.truncated(at) }
                let id = self.take(8)
                let length = Int(self.take(4))
                guard length <= 4096 else { throw self.broken("an event name of \(length) bytes", at: at) }
                guard try self.ensure(length) else { return self.truncated(at) }
                let name = Array(self.buffer[self.start..<(self.start + length)])
                self.skip(length)
                let kind = name.withUnsafeBufferPointer { EventKind.lookup($0) }
                if let kind {
                    self.kinds[id] = (kind, String(decoding: name, as: UTF8.self))
                } else if self.foreign.count < Self.maximumForeignIDs {
                    self.foreign.insert(id)
                }
            case 1:
                guard try self.ensure(24) else { return self.truncated(at) }
                let id = self.take(8)
                let nanoseconds = self.take(8)
                let length = Int(self.take(4))
                let pid = UInt32(self.take(4))
                guard length >= 24, length <= Self.maximumRecord else {
                    throw self.broken("an event record claims \(length) bytes (its header alone is 24)", at: at)
                }
                let argumentBytes = length - 24
                guard try self.ensure(argumentBytes) else { return self.truncated(at) }
                let arguments = Array(self.buffer[self.start..<(self.start + argumentBytes)])
                self.skip(argumentBytes)
                let time = Timestamp(nanoseconds: Int64(clamping: nanoseconds))
                if id == Self.droppedEventID {
                    let count = arguments.count >= 8 ? Self.little(arguments, 0, 8) : 0
                    statistics.malformedLines += 1
                    return .problem(InputProblem(kind: .dropped(count), line: self.record, offset: at))
                }
                guard let (kind, name) = self.kinds[id] else {
                    if self.foreign.contains(id) || self.foreign.count >= Self.maximumForeignIDs {
                        statistics.otherEvents += 1
                        continue
                    }
                    statistics.malformedLines += 1
                    return self.problem("event id \(id) has no mapping record before it", at: at)
                }
                switch self.decode(kind, name: name, arguments: arguments, time: time, pid: pid) {
                case .event(let record):
                    return .record(record)
                case .otherEvent, .nonEvent:
                    statistics.otherEvents += 1
                case .malformed(let reason):
                    statistics.malformedLines += 1
                    return self.problem(reason, at: at)
                }
            default:
                throw self.broken("record type \(type) (0 is a mapping, 1 an event)", at: at)
            }
        }
    }

    /// The arguments: `u64`s, and for the two events with a string, its `u32` length and bytes.
    private func decode(_ kind: EventKind, name: String, arguments: [UInt8], time: Timestamp, pid: UInt32) -> LineOutcome {
        var numbers: [UInt64] = []
        var string: String?
        var at = 0
        func number() -> Bool {
            guard at + 8 <= arguments.count else { return false }
            numbers.append(Self.little(arguments, at, 8))
            at += 8
            return true
        }
        func text() -> Bool {
            guard at + 4 <= arguments.count else { return false }
            let length = Int(Self.little(arguments, at, 4))
            guard length <= arguments.count - at - 4 else { return false }
            string = String(decoding: arguments[(at + 4)..<(at + 4 + length)], as: UTF8.self)
            at += 4 + length
            return true
        }
        var complete = true
        switch kind {
        case .pciConfigWrite:
            complete = text() && (0..<5).allSatisfy { _ in number() }
        case .memoryRegionWrite:
            complete = (0..<5).allSatisfy { _ in number() } && text()
        default:
            while numbers.count < QEMULogDecoder.maximumNumbers, number() {}
            complete = at == arguments.count || numbers.count == QEMULogDecoder.maximumNumbers
        }
        guard complete else {
            return .malformed("\(name): \(arguments.count) argument bytes that do not hold its arguments")
        }
        return self.decoder.decodeRecord(kind, numbers: numbers, string: string, record: self.record, timestamp: time, thread: pid)
    }

    /// The input ends inside the record at `at`: reported once, and the reading ends there.
    private mutating func truncated(_ at: UInt64) -> TraceItem {
        self.buffer.removeAll()
        self.start = 0
        self.atEOF = true
        return .problem(InputProblem(kind: .unterminated, line: self.record, offset: at))
    }

    private func broken(_ reason: String, at offset: UInt64) -> InputError {
        .undecodable(path: self.path, offset: offset, reason: "simple trace record \(self.record): \(reason)")
    }
}
