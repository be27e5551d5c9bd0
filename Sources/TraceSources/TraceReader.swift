/// A problem with the input itself (not with the driver), with its place in the file.
public struct InputProblem: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A virtio event line whose arguments do not parse.
        case malformed(String)
        /// A line longer than the reader's limit; it was skipped.
        case overlong(limit: Int)
        /// The last line had no newline (a `simple` trace: the last record is cut): the trace
        /// was cut off while being written.
        case unterminated
        /// A `simple` trace's record of events QEMU dropped (its buffer was full).
        case dropped(UInt64)
    }

    public var kind: Kind
    public var line: Int
    public var offset: UInt64

    public init(kind: Kind, line: Int, offset: UInt64) {
        self.kind = kind
        self.line = line
        self.offset = offset
    }
}

/// Counts of what the reader saw, for the report's input section.
public struct InputStatistics: Sendable, Equatable {
    public var bytes: UInt64 = 0
    public var lines = 0
    public var virtioEvents = 0
    /// Trace events of other subsystems, counted and skipped.
    public var otherEvents = 0
    /// Lines that are not trace events (other QEMU output, foreign text), counted and skipped.
    public var nonEventLines = 0
    public var firstNonEventLine: Int?
    public var malformedLines = 0
    /// Events that carried a timestamp.
    public var timestampedEvents = 0
    public var firstTimestamp: Timestamp?
    public var lastTimestamp: Timestamp?
    /// The input's form: a `log` backend text (line numbers are lines) or a `simple` backend
    /// binary trace (line numbers are record numbers, timestamps CLOCK_MONOTONIC).
    public var format: TraceFormat = .log

    public init() {}

    /// Counts one decoded virtio event and its timestamp.
    mutating func count(_ time: Timestamp?) {
        self.virtioEvents += 1
        if let time {
            self.timestampedEvents += 1
            if self.firstTimestamp == nil { self.firstTimestamp = time }
            self.lastTimestamp = time
        }
    }
}

/// The two forms of QEMU trace vqscope reads.
public enum TraceFormat: String, Sendable {
    case log
    case simple
}

/// One item from a trace: a decoded event, or a problem with the input.
public enum TraceItem: Sendable, Equatable {
    case record(TraceRecord)
    case problem(InputProblem)

    /// False for the events made of plain values only (no string), which need no
    /// deinitialization; true for everything else, including any event added later.
    var holdsReferences: Bool {
        guard case .record(let record) = self else { return true }
        switch record.event {
        case .allocElement, .pop, .fill, .flush, .queueNotify, .notify, .notifyIrqfd, .setStatus, .mmioRead, .mmioWrite,
            .mmioGuestPage, .mmioQueueWrite, .mmioSettingIRQ, .pciNotify, .pciNotifyWrite, .blkRequestComplete,
            .blkReadWriteComplete, .blkHandleRead, .blkHandleWrite, .blkSubmitMultiRequest, .blkOther, .blkDataPlane, .rng,
            .serialSendControl, .serialHandleControl, .serialOther, .inputQueueFull:
            return false
        case .netOther, .pciConfigWrite, .memoryRegionWrite, .memoryRegionRead, .qemuMessage:
            return true
        }
    }
}

/// Streams a QEMU `log`-backend trace as typed events, with bounded memory.
public struct TraceReader {
    public let path: String
    public private(set) var statistics = InputStatistics()
    private var lines: LineReader
    private let decoder = QEMULogDecoder()
    private var checkedFormat = false
    /// A `simple` backend binary trace, told from a text log by its header.
    private var simple: SimpleTraceReader?

    /// `declarations`: a QEMU build's `trace-events` (`--trace-events`), for a simple trace's
    /// events declared differently from QEMU 7.2–10.x.
    public init(
        path: String, maximumLineLength: Int = 64 * 1024, chunkSize: Int = 1 << 20, declarations: TraceEventsFile? = nil
    ) throws(InputError) {
        self.path = path
        let input = try InputFile(path: path)
        if SimpleTraceReader.isSimpleTrace(try input.peek(16)) {
            self.simple = SimpleTraceReader(input: input, path: path, declarations: declarations)
            self.statistics.format = .simple
        }
        self.lines = LineReader(input: input, maximumLineLength: maximumLineLength, chunkSize: chunkSize)
    }

    /// Decodes up to `capacity` items into `slots`, initializing them, and returns how many;
    /// fewer than `capacity` only at the end of the input. The same items ``next()`` gives.
    /// The indices of the items that hold references (strings) are appended to `holders`: only
    /// those need deinitializing, the others are plain values. When it throws, no slot is left
    /// initialized.
    ///
    /// A `simple` trace's reader and the statistics are moved out for the batch and back after
    /// it, so that neither is copied per event.
    public mutating func fill(
        _ slots: UnsafeMutablePointer<TraceItem>, capacity: Int, holders: inout [Int]
    ) throws(InputError) -> Int {
        var count = 0
        let firstHolder = holders.count
        do {
            if var simple = self.simple.take() {
                var statistics = self.statistics
                defer {
                    self.simple = simple
                    self.statistics = statistics
                }
                count = try simple.fill(slots, capacity: capacity, holders: &holders, statistics: &statistics)
            } else {
                while count < capacity, let item = try self.next() {
                    if item.holdsReferences { holders.append(count) }
                    (slots + count).initialize(to: item)
                    count += 1
                }
            }
        } catch {
            for index in holders[firstHolder...] { (slots + index).deinitialize(count: 1) }
            holders.removeSubrange(firstHolder...)
            throw error
        }
        return count
    }

    /// The next event or problem, or `nil` at the end of the input.
    ///
    /// - Throws: ``InputError`` when the file cannot be read, or when it is binary data
    ///   rather than a text trace (checked on the first line).
    public mutating func next() throws(InputError) -> TraceItem? {
        if self.simple != nil {
            let slot = UnsafeMutablePointer<TraceItem>.allocate(capacity: 1)
            defer { slot.deallocate() }
            var holders: [Int] = []
            return try self.fill(slot, capacity: 1, holders: &holders) == 1 ? slot.move() : nil
        }
        while let line = try self.lines.next() {
            if !self.checkedFormat {
                self.checkedFormat = true
                try self.checkFormat(line)
            }
            self.statistics.lines = line.number
            self.statistics.bytes = self.lines.bytesRead
            if line.overlong {
                self.statistics.malformedLines += 1
                return .problem(
                    InputProblem(kind: .overlong(limit: self.lines.maximumLineLength), line: line.number, offset: line.offset))
            }
            let outcome = self.decoder.decode(line.bytes, number: line.number)
            if line.unterminated {
                // The input ended inside this line: keep its event only if it decoded completely.
                if case .event(let record) = outcome { self.pendingRecord = record }
                return .problem(InputProblem(kind: .unterminated, line: line.number, offset: line.offset))
            }
            switch outcome {
            case .event(let record):
                self.statistics.count(record.timestamp)
                return .record(record)
            case .otherEvent:
                self.statistics.otherEvents += 1
            case .nonEvent:
                self.statistics.nonEventLines += 1
                if self.statistics.firstNonEventLine == nil { self.statistics.firstNonEventLine = line.number }
            case .malformed(let reason):
                self.statistics.malformedLines += 1
                return .problem(InputProblem(kind: .malformed(reason), line: line.number, offset: line.offset))
            }
        }
        if let record = self.pendingRecord {
            self.pendingRecord = nil
            self.statistics.count(record.timestamp)
            return .record(record)
        }
        self.statistics.bytes = self.lines.bytesRead
        return nil
    }

    private var pendingRecord: TraceRecord?

    /// Refuses binary input early with a message that says what it looks like.
    private func checkFormat(_ line: LineSlice) throws(InputError) {
        let head = Array(line.bytes.prefix(16))
        if head.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            throw .undecodable(path: self.path, offset: 0, reason: "this is an ELF file (a memory dump?), not a QEMU trace log")
        }
        if let nul = line.bytes.firstIndex(of: 0) {
            throw .undecodable(
                path: self.path, offset: line.offset + UInt64(nul),
                reason: "binary data (NUL byte) on line \(line.number): not a QEMU `log` trace")
        }
    }
}
