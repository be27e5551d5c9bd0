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
    /// Event ids below this are looked up in a table; QEMU numbers its events from 0.
    static let tableSize = 4_096

    let input: InputFile
    let path: String
    /// The stream's bytes between `start` and `end`; room for the largest record.
    private let storage = LineBuffer(byteCount: 2 << 20)
    private var buffer: UnsafeMutableRawBufferPointer { self.storage.bytes }
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// Bytes consumed before `buffer[start]`.
    private(set) var offset: UInt64 = 0
    private var table = [EventKind?](repeating: nil, count: SimpleTraceReader.tableSize)
    private var names = [String](repeating: "", count: SimpleTraceReader.tableSize)
    private var kinds: [UInt64: (EventKind, String)] = [:]
    private var foreign: Set<UInt64> = []
    private var record = 0
    private let decoder = QEMULogDecoder()
    private var recentNames = RecentNames()
    private var readHeader = false

    /// Declarations from `--trace-events`, by event name.
    private let declared: [String: EventSignature]
    private var signatures: [UInt64: EventSignature] = [:]

    init(input: InputFile, path: String, declarations: TraceEventsFile? = nil) {
        self.input = input
        self.path = path
        var declared: [String: EventSignature] = [:]
        for (name, parameters) in declarations?.events ?? [:] {
            if let signature = EventSignature(name: name, parameters: parameters) { declared[name] = signature }
        }
        self.declared = declared
    }

    /// True when `head` (the file's first bytes) is a `simple` trace's header.
    static func isSimpleTrace(_ head: [UInt8]) -> Bool {
        head.count >= 16 && Self.little(head, 0, 8) == Self.headerEventID && Self.little(head, 8, 8) == Self.magic
    }

    static func little(_ bytes: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }

    /// Makes `count` bytes available from `start`; false at the end of the input.
    @inline(__always) private mutating func ensure(_ count: Int) throws(InputError) -> Bool {
        self.end - self.start >= count ? true : try self.refill(count)
    }

    /// ``ensure(_:)`` when the buffer holds fewer than `count` bytes: moves them to its start
    /// and reads more.
    private mutating func refill(_ count: Int) throws(InputError) -> Bool {
        while self.end - self.start < count {
            if self.atEOF { return false }
            if self.start > 0 {
                let pending = self.end - self.start
                if pending > 0 {
                    self.buffer.baseAddress!.copyMemory(from: self.buffer.baseAddress! + self.start, byteCount: pending)
                }
                self.start = 0
                self.end = pending
            }
            let got = try self.input.read(into: UnsafeMutableRawBufferPointer(rebasing: self.buffer[self.end...]))
            if got == 0 { self.atEOF = true } else { self.end += got }
        }
        return true
    }

    @inline(__always) private func load<T: FixedWidthInteger>(_ at: Int, as type: T.Type) -> T {
        T(littleEndian: UnsafeRawBufferPointer(self.buffer).loadUnaligned(fromByteOffset: self.start + at, as: T.self))
    }

    private mutating func skip(_ count: Int) {
        self.start += count
        self.offset += UInt64(count)
    }

    private func problem(_ reason: String, at offset: UInt64) -> TraceItem {
        .problem(InputProblem(kind: .malformed(reason), line: self.record, offset: offset))
    }

    @inline(__always) private func kind(of id: UInt64) -> EventKind? {
        id < UInt64(Self.tableSize) ? self.table[Int(id)] : self.kinds[id]?.0
    }

    /// The kind of a common event: mapped, of `u64` arguments only, not declared by
    /// `--trace-events` (whose declaration says how to read it).
    @inline(__always) private func commonKind(of id: UInt64) -> EventKind? {
        guard let kind = self.kind(of: id), !kind.carriesString, self.signatures.isEmpty || self.signatures[id] == nil else {
            return nil
        }
        return kind
    }

    /// The event name of a mapped id, for messages.
    private func name(of id: UInt64) -> String {
        id < UInt64(Self.tableSize) ? self.names[Int(id)] : self.kinds[id]?.1 ?? "event \(id)"
    }

    /// What ``step(statistics:)`` found.
    private enum Step {
        /// The next item (an event or a problem, with the record number as its "line").
        case item(TraceItem)
        /// The next record is a common one, now whole in the buffer: ``fill`` decodes it.
        case common
        case end
    }

    /// The next record the loop of ``fill`` does not decode: more bytes read when the record
    /// is not whole in the buffer, mappings remembered, the uncommon events decoded; events of
    /// no interest are counted in `statistics` and passed over.
    private mutating func step(statistics: inout InputStatistics) throws(InputError) -> Step {
        while true {
            let at = self.offset
            guard try self.ensure(8) else { return .end }
            let type = self.load(0, as: UInt64.self)
            self.record += 1
            switch type {
            case 1:
                guard try self.ensure(32) else { return .item(self.truncated(at)) }
                let id = self.load(8, as: UInt64.self)
                let length = Int(self.load(24, as: UInt32.self))
                guard length >= 24, length <= Self.maximumRecord else {
                    throw self.broken("an event record claims \(length) bytes (its header alone is 24)", at: at)
                }
                guard try self.ensure(8 + length) else { return .item(self.truncated(at)) }
                if self.commonKind(of: id) != nil {
                    // Counted where it is decoded.
                    self.record -= 1
                    return .common
                }
                let nanoseconds = self.load(16, as: UInt64.self)
                let pid = self.load(28, as: UInt32.self)
                // Valid until the next `ensure`: skipping only moves the cursor.
                let arguments = UnsafeRawBufferPointer(start: self.buffer.baseAddress! + self.start + 32, count: length - 24)
                self.skip(8 + length)
                let time = Timestamp(nanoseconds: Int64(clamping: nanoseconds))
                if let item = self.uncommonEvent(id, at: at, arguments: arguments, time: time, pid: pid, statistics: &statistics) {
                    return .item(item)
                }
            case 0:
                if let item = try self.readMapping(at: at) { return .item(item) }
            default:
                throw self.broken("record type \(type) (0 is a mapping, 1 an event)", at: at)
            }
        }
    }

    /// Decodes up to `capacity` items into `slots`, as ``TraceReader/fill(_:capacity:holders:)``
    /// does, and returns how many. The common record (a mapped, undeclared event of `u64`
    /// arguments, whole in the buffer) is decoded in this loop and written in place; anything
    /// else goes through ``step(statistics:)``.
    mutating func fill(
        _ slots: UnsafeMutablePointer<TraceItem>, capacity: Int, holders: inout [Int], statistics: inout InputStatistics
    ) throws(InputError) -> Int {
        if !self.readHeader { try self.readHeaderRecord() }
        defer {
            statistics.lines = self.record
            statistics.bytes = self.offset
        }
        var count = 0
        while count < capacity {
            let available = self.end - self.start
            if available >= 32 {
                let record = UnsafeRawPointer(self.buffer.baseAddress!) + self.start
                let length = Int(UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
                if UInt64(littleEndian: record.loadUnaligned(as: UInt64.self)) == 1, length >= 24, length <= available - 8,
                    length <= Self.maximumRecord,
                    let kind = self.commonKind(of: UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
                {
                    let at = self.offset
                    let time = Timestamp(
                        nanoseconds: Int64(clamping: UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 16, as: UInt64.self))))
                    let pid = UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 28, as: UInt32.self))
                    let arguments = UnsafeRawBufferPointer(start: record + 32, count: length - 24)
                    self.record += 1
                    self.skip(8 + length)
                    do throws(QEMULogDecoder.ArgumentError) {
                        guard let event = try self.decoder.decodeRecord(kind, arguments: arguments) else {
                            statistics.otherEvents += 1
                            continue
                        }
                        statistics.count(time)
                        (slots + count).initialize(to: .record(TraceRecord(event: event, line: self.record, timestamp: time, thread: pid)))
                    } catch {
                        statistics.malformedLines += 1
                        let id = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                        holders.append(count)
                        (slots + count).initialize(to: self.problem("\(self.name(of: id)): \(error.reason)", at: at))
                    }
                    count += 1
                    continue
                }
            }
            switch try self.step(statistics: &statistics) {
            case .common: continue
            case .end: return count
            case .item(let item):
                if item.holdsReferences { holders.append(count) }
                (slots + count).initialize(to: item)
                count += 1
            }
        }
        return count
    }

    /// The 24-byte header: the event id and magic ``isSimpleTrace(_:)`` checked, and the version.
    @inline(never)
    private mutating func readHeaderRecord() throws(InputError) {
        self.readHeader = true
        guard try self.ensure(24) else {
            throw .undecodable(path: self.path, offset: 0, reason: "a simple trace shorter than its 24-byte header")
        }
        let version = self.load(16, as: UInt64.self)
        self.skip(24)
        guard version == 4 else {
            throw .undecodable(
                path: self.path, offset: 16,
                reason: "simple trace format version \(version); vqscope reads version 4 (QEMU 2.9 and later)")
        }
    }

    /// A mapping record: an event id and its name. Returns a problem when the input ends inside it.
    @inline(never)
    private mutating func readMapping(at: UInt64) throws(InputError) -> TraceItem? {
        guard try self.ensure(20) else { return self.truncated(at) }
        let id = self.load(8, as: UInt64.self)
        let length = Int(self.load(16, as: UInt32.self))
        guard length <= 4096 else { throw self.broken("an event name of \(length) bytes", at: at) }
        guard try self.ensure(20 + length) else { return self.truncated(at) }
        let name = UnsafeBufferPointer(
            start: (self.buffer.baseAddress! + self.start + 20).assumingMemoryBound(to: UInt8.self), count: length)
        if let kind = EventKind.lookup(name) {
            let text = String(decoding: name, as: UTF8.self)
            if let signature = self.declared[text] { self.signatures[id] = signature }
            if id < UInt64(Self.tableSize) {
                self.table[Int(id)] = kind
                self.names[Int(id)] = text
            } else {
                self.kinds[id] = (kind, text)
            }
        } else if self.foreign.count < Self.maximumForeignIDs {
            self.foreign.insert(id)
        }
        self.skip(20 + length)
        return nil
    }

    /// Every event record but the common one (a mapped, undeclared event of `u64` arguments):
    /// dropped events, unmapped ids, events declared by `--trace-events`, and the events that
    /// carry a string.
    /// Returns nil for an event of no interest (counted).
    @inline(never)
    private mutating func uncommonEvent(
        _ id: UInt64, at: UInt64, arguments: UnsafeRawBufferPointer, time: Timestamp, pid: UInt32,
        statistics: inout InputStatistics
    ) -> TraceItem? {
        if id == Self.droppedEventID {
            let count = arguments.count >= 8 ? UInt64(littleEndian: arguments.loadUnaligned(as: UInt64.self)) : 0
            statistics.malformedLines += 1
            return .problem(InputProblem(kind: .dropped(count), line: self.record, offset: at))
        }
        guard let kind = self.kind(of: id) else {
            if self.foreign.contains(id) || self.foreign.count >= Self.maximumForeignIDs {
                statistics.otherEvents += 1
                return nil
            }
            statistics.malformedLines += 1
            return self.problem("event id \(id) has no mapping record before it", at: at)
        }
        let outcome =
            if let signature = self.signatures[id] {
                self.decodeDeclared(kind, signature: signature, arguments: arguments, time: time, pid: pid)
            } else {
                self.decodeWithString(kind, arguments: arguments, time: time, pid: pid)
            }
        switch consume outcome {
        case .event(let record):
            statistics.bytes = self.offset
            statistics.count(time)
            return .record(record)
        case .otherEvent, .nonEvent:
            statistics.otherEvents += 1
            return nil
        case .malformed(let reason):
            statistics.malformedLines += 1
            return self.problem("\(self.name(of: id)): \(reason)", at: at)
        }
    }

    /// An event read as its `--trace-events` declaration says: each argument a string or a
    /// `u64` in the declared order, the numbers then put in the order vqscope expects.
    private func decodeDeclared(
        _ kind: EventKind, signature: EventSignature, arguments: UnsafeRawBufferPointer, time: Timestamp, pid: UInt32
    ) -> LineOutcome {
        var numbers: [UInt64] = []
        var string: String?
        var at = 0
        for isString in signature.strings {
            if isString {
                guard at + 4 <= arguments.count else { return .malformed("arguments shorter than the declaration") }
                let length = Int(UInt32(littleEndian: arguments.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                guard length <= arguments.count - at - 4 else { return .malformed("a string longer than the record") }
                let bytes = UnsafeBufferPointer(
                    start: (arguments.baseAddress! + at + 4).assumingMemoryBound(to: UInt8.self), count: length)
                if string == nil, Bytes.contains(bytes, Bytes.virtio) { string = String(decoding: bytes, as: UTF8.self) }
                at += 4 + length
            } else {
                guard at + 8 <= arguments.count else { return .malformed("arguments shorter than the declaration") }
                numbers.append(UInt64(littleEndian: arguments.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                at += 8
            }
        }
        let ordered = signature.order.map { numbers[$0] }
        if kind.carriesString && string == nil { return .otherEvent }
        return ordered.withUnsafeBufferPointer {
            self.decoder.decodeRecord(kind, numbers: $0, string: string, record: self.record, timestamp: time, thread: pid)
        }
    }

    /// `pci_cfg_write` (a string, then five `u64`s) and `memory_region_ops_write` and `_read`
    /// (five `u64`s, then a string). Most devices are not virtio ones: for those nothing is made.
    private mutating func decodeWithString(
        _ kind: EventKind, arguments: UnsafeRawBufferPointer, time: Timestamp, pid: UInt32
    ) -> LineOutcome {
        let stringAt = kind == .pciConfigWrite ? 0 : 40
        var malformed: LineOutcome { .malformed("\(arguments.count) argument bytes that do not hold its arguments") }
        guard stringAt + 4 <= arguments.count else { return malformed }
        let length = Int(UInt32(littleEndian: arguments.loadUnaligned(fromByteOffset: stringAt, as: UInt32.self)))
        guard length <= arguments.count - stringAt - 4 else { return malformed }
        let numbersAt = kind == .pciConfigWrite ? 4 + length : 0
        guard numbersAt + 40 <= arguments.count else { return malformed }
        let bytes = UnsafeBufferPointer(
            start: (arguments.baseAddress! + stringAt + 4).assumingMemoryBound(to: UInt8.self), count: length)
        let name: String
        if let known = self.recentNames.lookup(bytes) {
            guard let known else { return .otherEvent }
            name = known
        } else {
            let virtio = Bytes.contains(bytes, Bytes.virtio)
            // Names are short; a long one (hostile input) is not kept.
            if length <= 64 { self.recentNames.remember(bytes, as: virtio ? String(decoding: bytes, as: UTF8.self) : nil) }
            guard virtio else { return .otherEvent }
            name = String(decoding: bytes, as: UTF8.self)
        }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 5) { numbers in
            for index in 0..<5 {
                numbers[index] = UInt64(littleEndian: arguments.loadUnaligned(fromByteOffset: numbersAt + 8 * index, as: UInt64.self))
            }
            return self.decoder.decodeRecord(
                kind, numbers: UnsafeBufferPointer(numbers), string: name, record: self.record, timestamp: time, thread: pid)
        }
    }

    /// The input ends inside the record at `at`: reported once, and the reading ends there.
    private mutating func truncated(_ at: UInt64) -> TraceItem {
        self.start = 0
        self.end = 0
        self.atEOF = true
        return .problem(InputProblem(kind: .unterminated, line: self.record, offset: at))
    }

    private func broken(_ reason: String, at offset: UInt64) -> InputError {
        .undecodable(path: self.path, offset: offset, reason: "simple trace record \(self.record): \(reason)")
    }
}
