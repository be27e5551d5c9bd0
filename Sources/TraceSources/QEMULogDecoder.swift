#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one line of a QEMU `log`-backend trace turned out to be.
public enum LineOutcome: Sendable, Equatable {
    /// A virtio event vqscope decodes (including QEMU's virtio error messages).
    case event(TraceRecord)
    /// A trace event vqscope does not use (other subsystems, vhost, …).
    case otherEvent
    /// A line that is not a trace event at all (other `qemu_log` output, foreign text).
    case nonEvent
    /// A line naming a virtio event whose arguments do not parse; the reason says why.
    case malformed(String)
}

/// Decodes lines of QEMU's `log` trace backend.
///
/// Three line forms are accepted (see `docs/trace-formats.md`):
/// - `TID@SEC.USEC:name args` — QEMU ≤ 10.0 with `-msg timestamp=on`;
/// - `name args` — no timestamp;
/// - `YYYY-MM-DDTHH:MM:SS.ffffffZ name args` — QEMU 10.x with `-msg timestamp=on`,
///   optionally followed by `(TID) ` as one 10.1 development snapshot printed.
///
/// Arguments are read by position from the event's printf format: the decoder takes the
/// numbers in order (`0x…` hex, decimal, `(nil)` for a null pointer) and ignores the words
/// between them, which keeps it independent of small wording changes between QEMU versions.
public final class QEMULogDecoder {
    /// Scratch space for one line's numbers; allocated once, no reference counting per line.
    private let numbers = UnsafeMutablePointer<UInt64>.allocate(capacity: QEMULogDecoder.maximumNumbers)
    static let maximumNumbers = 8

    /// The last `TID@SEC.` prefix seen: consecutive lines mostly repeat it, and then only the
    /// microseconds need parsing.
    private struct PrefixCache {
        static let capacity = 32
        var length = 0
        var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var thread: UInt32 = 0
        var seconds: Int64 = 0
    }

    private let cache = UnsafeMutablePointer<PrefixCache>.allocate(capacity: 1)

    public init() {
        self.numbers.initialize(repeating: 0, count: Self.maximumNumbers)
        self.cache.initialize(to: PrefixCache())
    }

    deinit {
        self.numbers.deallocate()
        self.cache.deallocate()
    }

    /// Parses the `TID@SEC.USEC:` prefix when `TID@SEC.` equals the last line's; nil otherwise.
    @inline(__always)
    private func cachedPrefix(_ line: UnsafeBufferPointer<UInt8>, cursor: inout Int) -> Prefix? {
        let length = self.cache.pointee.length
        guard length > 0, line.count > length else { return nil }
        let same = withUnsafeBytes(of: &self.cache.pointee.bytes) { memcmp($0.baseAddress!, line.baseAddress!, length) == 0 }
        guard same else { return nil }
        var index = length
        guard let (micros, digits) = Self.digits(line, &index, maximum: 9), Self.expect(line, &index, 0x3A),
            let nanoseconds = Self.nanoseconds(self.cache.pointee.seconds, Self.scale(micros, digits: digits))
        else { return nil }
        cursor = index
        return Prefix(timestamp: Timestamp(nanoseconds: nanoseconds), thread: self.cache.pointee.thread)
    }

    /// Remembers `TID@SEC.` of a line whose prefix parsed in that form.
    private func remember(_ line: UnsafeBufferPointer<UInt8>, _ prefix: Prefix) {
        guard let thread = prefix.thread, let at = line.firstIndex(of: 0x40),
            let dot = line[at...].firstIndex(of: 0x2E), dot + 1 <= PrefixCache.capacity
        else {
            self.cache.pointee.length = 0
            return
        }
        let length = dot + 1
        withUnsafeMutableBytes(of: &self.cache.pointee.bytes) { _ = memcpy($0.baseAddress!, line.baseAddress!, length) }
        self.cache.pointee.length = length
        self.cache.pointee.thread = thread
        self.cache.pointee.seconds = prefix.timestamp.nanoseconds / 1_000_000_000
    }

    public func decode(_ line: UnsafeBufferPointer<UInt8>, number: Int) -> LineOutcome {
        var cursor = 0
        var timestamp: Timestamp?
        var thread: UInt32?
        let count = line.count
        if count > 0, Self.isDigit(line[0]) {
            if let prefix = self.cachedPrefix(line, cursor: &cursor) {
                timestamp = prefix.timestamp
                thread = prefix.thread
            } else {
                guard let prefix = Self.parsePrefix(line, cursor: &cursor) else { return self.nonEvent(line, number) }
                timestamp = prefix.timestamp
                thread = prefix.thread
                self.remember(line, prefix)
            }
        }
        // The event name runs to the first space; a known name is found without looking at
        // each of its bytes (EventKind.lookup hashes its first and last eight bytes).
        let nameStart = cursor
        var nameEnd = count
        if cursor < count, let space = memchr(line.baseAddress! + cursor, 0x20, count - cursor) {
            nameEnd = UnsafeRawPointer(line.baseAddress!).distance(to: UnsafeRawPointer(space))
        }
        let name = UnsafeBufferPointer(rebasing: line[nameStart..<nameEnd])
        guard let kind = EventKind.lookup(name) else {
            return self.unknownName(name, line, number, timestamp: timestamp, thread: thread)
        }
        let args = UnsafeBufferPointer(rebasing: line[min(nameEnd + 1, count)..<count])
        do throws(ArgumentError) {
            guard let event = try self.decodeArguments(kind, args) else { return .otherEvent }
            return .event(TraceRecord(event: event, line: number, timestamp: timestamp, thread: thread))
        } catch {
            return .malformed("\(String(decoding: name, as: UTF8.self)): \(error.reason)")
        }
    }

    /// A line whose first word is no virtio event: another subsystem's event (a name of
    /// letters, digits and underscores, followed by a space or the end of the line), or text.
    /// A timestamped line starting with a plain word is a message (QEMU 10.x:
    /// "<time> Device virtio-blk: indirect_desc was not negotiated!").
    private func unknownName(
        _ name: UnsafeBufferPointer<UInt8>, _ line: UnsafeBufferPointer<UInt8>, _ number: Int, timestamp: Timestamp?,
        thread: UInt32?
    ) -> LineOutcome {
        let isName = !name.isEmpty && name.allSatisfy(Self.isNameByte)
        guard isName, name.contains(0x5F) else {
            return self.nonEvent(line, number, timestamp: timestamp, thread: thread)
        }
        return .otherEvent
    }

    private func nonEvent(
        _ line: UnsafeBufferPointer<UInt8>, _ number: Int, timestamp: Timestamp? = nil, thread: UInt32? = nil
    ) -> LineOutcome {
        guard let message = QEMUMessage.match(line) else { return .nonEvent }
        let text = String(decoding: UnsafeBufferPointer(rebasing: line[0..<min(line.count, 240)]), as: UTF8.self)
        return .event(
            TraceRecord(event: .qemuMessage(message, text: text), line: number, timestamp: timestamp, thread: thread))
    }

    /// Why an event's arguments did not decode; plain values, so the success path carries
    /// no string. The text is made only for a malformed line.
    enum ArgumentError: Error {
        case missing(needed: Int, found: Int)
        /// A `simple` record's argument bytes are no whole number of `u64`s.
        case partialArgument(bytes: Int)
        case tooWide(argument: Int, value: UInt64)
        case statusTooLarge(UInt64)
        case noConfigOffset
        case configTooWide
        case noRegionArguments
        case accessSize(UInt64)

        var reason: String {
            switch self {
            case .missing(let needed, let found): return "expected \(needed) numeric arguments, found \(max(found, 0))"
            case .partialArgument(let bytes): return "\(bytes) argument bytes that do not hold its arguments"
            case .tooWide(let argument, let value): return "argument \(argument) (\(value)) exceeds 32 bits"
            case .statusTooLarge(let value): return "status value \(value) does not fit in 8 bits"
            case .noConfigOffset: return "expected a config offset and value"
            case .configTooWide: return "config offset or value exceeds 32 bits"
            case .noRegionArguments: return "expected cpu, mr, addr, value and size"
            case .accessSize(let size): return "access size \(size) is not 1–8"
            }
        }
    }

    /// The event of a `simple` trace's record (``SimpleTraceReader``) whose arguments are all
    /// `u64`s, read in place from `arguments`; nil for an event vqscope does not use.
    ///
    /// - Throws: why the arguments do not decode (a plain value: the success path carries no
    ///   string; ``ArgumentError/reason`` makes the text for a malformed record).
    func decodeRecord(_ kind: EventKind, arguments: UnsafeRawBufferPointer) throws(ArgumentError) -> TraceEvent? {
        let count = min(arguments.count / 8, Self.maximumNumbers)
        guard arguments.count % 8 == 0 || count == Self.maximumNumbers else {
            throw .partialArgument(bytes: arguments.count)
        }
        for index in 0..<count {
            self.numbers[index] = UInt64(littleEndian: arguments.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
        }
        return try self.decodeNumbers(kind, BinaryArguments(count: count))
    }

    /// The events with a string argument, and any event whose arguments were reordered by its
    /// declaration (`--trace-events`): the numbers in vqscope's order.
    func decodeRecord(
        _ kind: EventKind, numbers: UnsafeBufferPointer<UInt64>, string: String?, record: Int, timestamp: Timestamp, thread: UInt32
    ) -> LineOutcome {
        let event: TraceEvent?
        switch kind {
        case .pciConfigWrite:
            // (const char *dev, bus, slot, func, unsigned offset, unsigned val); the caller
            // passes only the names of virtio devices.
            guard let string else { return .otherEvent }
            guard numbers.count >= 5, numbers[3] <= UInt64(UInt32.max), numbers[4] <= UInt64(UInt32.max) else {
                return .malformed("pci_cfg_write: expected bus, slot, function, offset and value")
            }
            event = .pciConfigWrite(device: string, offset: UInt32(numbers[3]), value: UInt32(numbers[4]))
        case .memoryRegionWrite, .memoryRegionRead:
            // (int cpu_index, void *mr, uint64_t addr, uint64_t value, unsigned size, const char *name)
            guard let string, string.utf8.starts(with: Bytes.virtio) else { return .otherEvent }
            guard numbers.count >= 5, numbers[4] <= 8 else {
                return .malformed("memory_region_ops_\(kind == .memoryRegionRead ? "read" : "write"): expected cpu, mr, addr, value and a size of 1–8")
            }
            event = Self.memoryRegionAccess(
                kind, region: string, address: numbers[2], value: numbers[3], size: UInt32(numbers[4]))
        default:
            let count = min(numbers.count, Self.maximumNumbers)
            for index in 0..<count { self.numbers[index] = numbers[index] }
            do throws(ArgumentError) {
                event = try self.decodeNumbers(kind, BinaryArguments(count: count))
            } catch {
                return .malformed(error.reason)
            }
        }
        guard let event else { return .otherEvent }
        return .event(TraceRecord(event: event, line: record, timestamp: timestamp, thread: thread))
    }

    /// Where an event's numbers come from: the text of a log line, scanned as far as needed,
    /// or the arguments of a binary record, already in place.
    private protocol NumberSource {
        /// Puts at least `needed` numbers in `numbers` and returns how many there are.
        func fill(_ numbers: UnsafeMutablePointer<UInt64>, needed: Int) -> Int
    }

    private struct TextArguments: NumberSource {
        let args: UnsafeBufferPointer<UInt8>
        func fill(_ numbers: UnsafeMutablePointer<UInt64>, needed: Int) -> Int {
            QEMULogDecoder.scanNumbers(self.args, into: numbers, limit: needed)
        }
    }

    private struct BinaryArguments: NumberSource {
        let count: Int
        func fill(_ numbers: UnsafeMutablePointer<UInt64>, needed: Int) -> Int { self.count }
    }

    private func decodeArguments(_ kind: EventKind, _ args: UnsafeBufferPointer<UInt8>) throws(ArgumentError) -> TraceEvent? {
        switch kind {
        case .pciConfigWrite: return try self.decodePCIConfigWrite(args)
        case .memoryRegionWrite, .memoryRegionRead: return try self.decodeMemoryRegionAccess(kind, args)
        default: return try self.decodeNumbers(kind, TextArguments(args: args))
        }
    }

    /// The event from its numbers, in the order of the event's declaration (which is also
    /// the order its log format prints them).
    private func decodeNumbers<Source: NumberSource>(_ kind: EventKind, _ source: Source) throws(ArgumentError) -> TraceEvent? {
        func take(_ needed: Int) throws(ArgumentError) {
            let got = source.fill(self.numbers, needed: needed)
            guard got >= needed else {
                throw .missing(needed: needed, found: got)
            }
        }
        func u32(_ index: Int) throws(ArgumentError) -> UInt32 {
            let value = self.numbers[index]
            // Signed printf values arrive sign-extended; keep the low 32 bits of those.
            guard value <= UInt64(UInt32.max) || Int64(bitPattern: value) < 0 else {
                throw .tooWide(argument: index + 1, value: value)
            }
            return UInt32(truncatingIfNeeded: value)
        }
        func i32(_ index: Int) -> Int32 { Int32(truncatingIfNeeded: Int64(bitPattern: self.numbers[index])) }
        switch kind {
        case .allocElement:
            try take(4)
            return .allocElement(elem: self.numbers[0], size: self.numbers[1], inNum: try u32(2), outNum: try u32(3))
        case .pop:
            try take(4)
            return .pop(vq: self.numbers[0], elem: self.numbers[1], inNum: try u32(2), outNum: try u32(3))
        case .fill:
            try take(4)
            return .fill(vq: self.numbers[0], elem: self.numbers[1], length: try u32(2), index: try u32(3))
        case .flush:
            try take(2)
            return .flush(vq: self.numbers[0], count: try u32(1))
        case .queueNotify:
            try take(3)
            return .queueNotify(vdev: self.numbers[0], queue: i32(1), vq: self.numbers[2])
        case .notify:
            try take(2)
            return .notify(vdev: self.numbers[0], vq: self.numbers[1])
        case .notifyIrqfd:
            try take(2)
            return .notifyIrqfd(vdev: self.numbers[0], vq: self.numbers[1])
        case .setStatus:
            try take(2)
            guard self.numbers[1] <= 0xFF else {
                throw .statusTooLarge(self.numbers[1])
            }
            return .setStatus(vdev: self.numbers[0], value: UInt8(self.numbers[1]))
        case .mmioRead:
            try take(1)
            return .mmioRead(offset: self.numbers[0])
        case .mmioWrite:
            try take(2)
            return .mmioWrite(offset: self.numbers[0], value: self.numbers[1])
        case .mmioGuestPage:
            try take(2)
            return .mmioGuestPage(size: self.numbers[0], shift: i32(1))
        case .mmioQueueWrite:
            try take(2)
            return .mmioQueueWrite(value: self.numbers[0], maximum: i32(1))
        case .mmioSettingIRQ:
            try take(1)
            return .mmioSettingIRQ(level: i32(0))
        case .pciNotify:
            try take(1)
            return .pciNotify(vector: UInt16(truncatingIfNeeded: self.numbers[0]))
        case .pciNotifyWrite, .pciNotifyWritePIO:
            try take(3)
            return .pciNotifyWrite(
                address: self.numbers[0], value: self.numbers[1], size: try u32(2),
                portIO: kind == .pciNotifyWritePIO)
        case .blkRequestComplete:
            try take(3)
            return .blkRequestComplete(vdev: self.numbers[0], request: self.numbers[1], status: i32(2))
        case .blkReadWriteComplete:
            try take(3)
            return .blkReadWriteComplete(vdev: self.numbers[0], request: self.numbers[1], result: i32(2))
        case .blkHandleRead:
            try take(4)
            return .blkHandleRead(
                vdev: self.numbers[0], request: self.numbers[1], sector: self.numbers[2],
                sectors: self.numbers[3])
        case .blkHandleWrite:
            try take(4)
            return .blkHandleWrite(
                vdev: self.numbers[0], request: self.numbers[1], sector: self.numbers[2],
                sectors: self.numbers[3])
        case .blkSubmitMultiRequest:
            try take(7)
            return .blkSubmitMultiRequest(
                vdev: self.numbers[0], start: i32(2), requests: i32(3), offset: self.numbers[4],
                size: self.numbers[5], isWrite: self.numbers[6] != 0)
        case .blkDataPlane(let started):
            try take(1)
            return .blkDataPlane(started: started, dataPlane: self.numbers[0])
        case .blkOther(let name):
            try take(1)
            return .blkOther(name: name, vdev: self.numbers[0])
        case .rng(let event):
            let wanted: Int
            switch event {
            case .guestNotReady, .popped: wanted = 1
            case .cpuIsStopped, .pushed, .request, .vmStateChange: wanted = 2
            }
            try take(wanted)
            return .rng(event, vdev: self.numbers[0], bytes: wanted > 1 ? self.numbers[1] : 0)
        case .serialSendControl:
            try take(3)
            return .serialSendControl(
                port: try u32(0), event: UInt16(truncatingIfNeeded: self.numbers[1]),
                value: UInt16(truncatingIfNeeded: self.numbers[2]))
        case .serialHandleControl:
            try take(2)
            return .serialHandleControl(
                event: UInt16(truncatingIfNeeded: self.numbers[0]),
                value: UInt16(truncatingIfNeeded: self.numbers[1]))
        case .serialOther(let name):
            try take(1)
            return .serialOther(name: name, port: try u32(0))
        case .netOther(let name):
            return .netOther(name: name.rawValue)
        case .inputQueueFull:
            return .inputQueueFull
        case .pciConfigWrite, .memoryRegionWrite, .memoryRegionRead:
            // They carry a string: decodeArguments and decodeRecord take them apart.
            return nil
        }
    }

    /// `pci_cfg_write` prints `"%s %02x:%02x.%x @0x%x <- 0x%x"`: device name, address, offset, value.
    private func decodePCIConfigWrite(_ args: UnsafeBufferPointer<UInt8>) throws(ArgumentError) -> TraceEvent? {
        var end = 0
        while end < args.count, args[end] != 0x20 { end += 1 }
        let name = UnsafeBufferPointer(rebasing: args[0..<end])
        guard Bytes.contains(name, Bytes.virtio) else { return nil }
        let device = String(decoding: name, as: UTF8.self)
        let rest = UnsafeBufferPointer(rebasing: args[end..<args.count])
        let got = Self.scanNumbers(rest, into: self.numbers, limit: Self.maximumNumbers)
        guard got >= 2 else { throw .noConfigOffset }
        let offset = self.numbers[got - 2]
        let value = self.numbers[got - 1]
        guard offset <= UInt64(UInt32.max), value <= UInt64(UInt32.max) else {
            throw .configTooWide
        }
        return .pciConfigWrite(device: device, offset: UInt32(offset), value: UInt32(value))
    }

    /// `memory_region_ops_write` and `memory_region_ops_read` print `"cpu %d mr %p addr 0x%x
    /// value 0x%x size %u name '%s'"`.
    private func decodeMemoryRegionAccess(
        _ kind: EventKind, _ args: UnsafeBufferPointer<UInt8>
    ) throws(ArgumentError) -> TraceEvent? {
        // The region name is last: `name '…'`. Only virtio regions are of interest.
        guard let last = args.lastIndex(of: 0x27), last > 0, let first = args[..<last].lastIndex(of: 0x27),
            first >= 5, Bytes.equal(UnsafeBufferPointer(rebasing: args[(first - 5)..<first]), Self.nameMarker)
        else { return nil }
        let start = first + 1
        let name = UnsafeBufferPointer(rebasing: args[start..<last])
        guard name.starts(with: Bytes.virtio) else { return nil }
        let region = String(decoding: name, as: UTF8.self)
        let marker = Self.nameMarker + [0x27]
        let head = UnsafeBufferPointer(rebasing: args[0..<(start - marker.count)])
        guard Self.scanNumbers(head, into: self.numbers, limit: 5) >= 5 else {
            throw .noRegionArguments
        }
        guard self.numbers[4] <= 8 else { throw .accessSize(self.numbers[4]) }
        return Self.memoryRegionAccess(
            kind, region: region, address: self.numbers[2], value: self.numbers[3], size: UInt32(self.numbers[4]))
    }

    /// The event of a guest access to a memory region, read or write as `kind` says.
    private static func memoryRegionAccess(
        _ kind: EventKind, region: String, address: UInt64, value: UInt64, size: UInt32
    ) -> TraceEvent {
        kind == .memoryRegionRead
            ? .memoryRegionRead(region: region, address: address, value: value, size: size)
            : .memoryRegionWrite(region: region, address: address, value: value, size: size)
    }

    private static let nameMarker: [UInt8] = Array("name ".utf8)
    private static let regionAccess: [UInt8] = Array("memory_region_ops_".utf8)

    /// Whether `line`, a trace event line, is a `memory_region_ops_read` or `_write`: with
    /// ``LineOutcome/otherEvent``, an access to a region other than virtio's.
    public static func isRegionAccess(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        Bytes.contains(line, Self.regionAccess)
    }

    // MARK: - Byte-level scanning

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    @inline(__always) static func isNameByte(_ byte: UInt8) -> Bool {
        Self.isDigit(byte) || (byte | 0x20) &- 0x61 < 26 || byte == 0x5F
    }

    /// Byte classes for the scanners: 1 for a decimal digit, 2 for a letter or `_`, 0 otherwise;
    /// and the value of each hexadecimal digit (0xFF for other bytes).
    nonisolated(unsafe) private static let byteClass: UnsafePointer<UInt8> = QEMULogDecoder.table { byte in
        QEMULogDecoder.isDigit(byte) ? 1 : (QEMULogDecoder.isNameByte(byte) ? 2 : 0)
    }
    nonisolated(unsafe) private static let hexValue: UnsafePointer<UInt8> = QEMULogDecoder.table { byte in
        if QEMULogDecoder.isDigit(byte) { return byte &- 0x30 }
        let lower = byte | 0x20
        return lower &- 0x61 < 6 ? lower &- 0x61 &+ 10 : 0xFF
    }

    private static func table(_ entry: (UInt8) -> UInt8) -> UnsafePointer<UInt8> {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for byte in 0...255 { table[byte] = entry(UInt8(byte)) }
        return UnsafePointer(table)
    }

    /// Reads up to `limit` numbers from `args` into `values`; returns how many were read, or
    /// -1 when a number does not fit in 64 bits. A number starts a word (`in_num` holds none);
    /// the words between numbers are skipped whole.
    static func scanNumbers(_ args: UnsafeBufferPointer<UInt8>, into values: UnsafeMutablePointer<UInt64>, limit: Int) -> Int {
        var found = 0
        var index = 0
        let count = args.count
        let classes = Self.byteClass
        while index < count, found < limit {
            let byte = args[index]
            switch classes[Int(byte)] {
            case 1:
                guard let (value, next) = Self.parseNumber(args, at: index) else { return -1 }
                values[found] = value
                found += 1
                index = next
                while index < count, classes[Int(args[index])] != 0 { index += 1 }  // the rest of the word
            case 2:
                index += 1
                while index < count, classes[Int(args[index])] != 0 { index += 1 }
            default:
                if byte == 0x2D, index + 1 < count, classes[Int(args[index + 1])] == 1 {  // "-5"
                    guard let (value, next) = Self.parseNumber(args, at: index) else { return -1 }
                    values[found] = value
                    found += 1
                    index = next
                } else if byte == 0x28, index + 4 < count, args[index + 1] == 0x6E, args[index + 2] == 0x69,
                    args[index + 3] == 0x6C, args[index + 4] == 0x29
                {  // "(nil)"
                    values[found] = 0
                    found += 1
                    index += 5
                } else {
                    index += 1
                }
            }
        }
        return found
    }

    /// Parses `0x…` hex, or decimal with an optional minus sign (stored as two's complement).
    @inline(__always)
    static func parseNumber(_ args: UnsafeBufferPointer<UInt8>, at start: Int) -> (UInt64, Int)? {
        var index = start
        let count = args.count
        var negative = false
        if args[index] == 0x2D {
            negative = true
            index += 1
        }
        if !negative, index + 1 < count, args[index] == 0x30, args[index + 1] | 0x20 == 0x78 {
            index += 2
            let hex = Self.hexValue
            var value: UInt64 = 0
            // Up to 16 digits cannot overflow; only a longer run needs checking digit by digit.
            let fast = min(count, index + 16)
            while index < fast {
                let nibble = hex[Int(args[index])]
                if nibble == 0xFF { return (value, index) }
                value = value << 4 | UInt64(nibble)
                index += 1
            }
            while index < count {
                let nibble = hex[Int(args[index])]
                if nibble == 0xFF { break }
                guard value >> 60 == 0 else { return nil }  // a 17th significant digit
                value = value << 4 | UInt64(nibble)
                index += 1
            }
            return (value, index)
        }
        var value: UInt64 = 0
        // Up to 18 decimal digits cannot overflow; only a longer run needs checking.
        let fast = min(count, index + 18)
        while index < fast, Self.isDigit(args[index]) {
            value = value &* 10 &+ UInt64(args[index] &- 0x30)
            index += 1
        }
        while index < count, Self.isDigit(args[index]) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(args[index] &- 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        if negative {
            guard value <= UInt64(Int64.max) else { return nil }
            return (UInt64(bitPattern: -Int64(value)), index)
        }
        return (value, index)
    }

    struct Prefix {
        var timestamp: Timestamp
        var thread: UInt32?
    }

    /// Reads up to `maximum` decimal digits at `index`; nil when there are none.
    @inline(__always)
    private static func digits(_ line: UnsafeBufferPointer<UInt8>, _ index: inout Int, maximum: Int) -> (UInt64, Int)? {
        var value: UInt64 = 0
        let start = index
        let end = min(line.count, start + maximum)
        while index < end, Self.isDigit(line[index]) {
            value = value &* 10 &+ UInt64(line[index] &- 0x30)  // at most 19 digits: no overflow
            index += 1
        }
        return index > start ? (value, index - start) : nil
    }

    @inline(__always)
    private static func expect(_ line: UnsafeBufferPointer<UInt8>, _ index: inout Int, _ byte: UInt8) -> Bool {
        guard index < line.count, line[index] == byte else { return false }
        index += 1
        return true
    }

    /// Parses `TID@SEC.USEC:` or `YYYY-MM-DDTHH:MM:SS[.frac]Z ` (plus an optional `(TID) `).
    static func parsePrefix(_ line: UnsafeBufferPointer<UInt8>, cursor: inout Int) -> Prefix? {
        var index = 0
        guard let (first, firstDigits) = Self.digits(line, &index, maximum: 19) else { return nil }
        if Self.expect(line, &index, 0x40) {  // '@': TID@SEC.USEC:
            guard first <= UInt64(UInt32.max), let (seconds, _) = Self.digits(line, &index, maximum: 12),
                Self.expect(line, &index, 0x2E), let (micros, microDigits) = Self.digits(line, &index, maximum: 9),
                Self.expect(line, &index, 0x3A)
            else { return nil }
            guard let nanoseconds = Self.nanoseconds(Int64(seconds), Self.scale(micros, digits: microDigits)) else {
                return nil
            }
            cursor = index
            return Prefix(timestamp: Timestamp(nanoseconds: nanoseconds), thread: UInt32(first))
        }
        // ISO 8601: YYYY-MM-DDTHH:MM:SS[.ffffff]Z
        guard firstDigits == 4, Self.expect(line, &index, 0x2D), let (month, _) = Self.digits(line, &index, maximum: 2),
            Self.expect(line, &index, 0x2D), let (day, _) = Self.digits(line, &index, maximum: 2),
            Self.expect(line, &index, 0x54), let (hour, _) = Self.digits(line, &index, maximum: 2),
            Self.expect(line, &index, 0x3A), let (minute, _) = Self.digits(line, &index, maximum: 2),
            Self.expect(line, &index, 0x3A), let (second, _) = Self.digits(line, &index, maximum: 2)
        else { return nil }
        var fraction: Int64 = 0
        if Self.expect(line, &index, 0x2E) {
            guard let (value, count) = Self.digits(line, &index, maximum: 9) else { return nil }
            fraction = Self.scale(value, digits: count)
        }
        guard Self.expect(line, &index, 0x5A), Self.expect(line, &index, 0x20), (1...12).contains(month),
            (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var thread: UInt32?
        if index < line.count, line[index] == 0x28 {  // "(TID) " from the 10.1 development form
            index += 1
            guard let (tid, _) = Self.digits(line, &index, maximum: 10), tid <= UInt64(UInt32.max),
                Self.expect(line, &index, 0x29), Self.expect(line, &index, 0x20)
            else { return nil }
            thread = UInt32(tid)
        }
        let days = Self.daysFromCivil(year: Int64(first), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(hour) * 3_600 + Int64(minute) * 60 + Int64(second)
        guard let nanoseconds = Self.nanoseconds(seconds, fraction) else { return nil }
        cursor = index
        return Prefix(timestamp: Timestamp(nanoseconds: nanoseconds), thread: thread)
    }

    /// Seconds and a nanosecond fraction as nanoseconds, or nil past the year 2262 (Int64).
    private static func nanoseconds(_ seconds: Int64, _ fraction: Int64) -> Int64? {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, overflow2) = scaled.addingReportingOverflow(fraction)
        return overflow || overflow2 ? nil : sum
    }

    /// A fraction of `digits` decimal digits as nanoseconds.
    private static func scale(_ value: UInt64, digits: Int) -> Int64 {
        var result = Int64(value)
        for _ in digits..<9 { result *= 10 }
        return result
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
