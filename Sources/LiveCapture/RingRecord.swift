import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

/// The run directory's `rings.jsonl`: every ring transition the recorder saw, one JSON object
/// a line, in the order seen (schema `vqscope.rings` version 2, docs/record.md). Written as
/// it happens, so memory does not grow with the run.
final class RingRecordWriter {
    private let file: UnsafeMutablePointer<FILE>
    private(set) var lines = 0

    init(path: String) throws(RecordError) {
        guard let file = fopen(path, "w") else { throw .io("\(path): cannot create: \(String(cString: strerror(errno)))") }
        self.file = file
        self.write(#"{"kind": "header", "schema": "vqscope.rings", "version": 2}"#)
    }

    deinit { fclose(self.file) }

    func write(_ line: String) {
        fputs(line, self.file)
        fputc(0x0A, self.file)
        self.lines += 1
    }

    /// Writes `line`, closed.
    func write(_ line: consuming RecordLine) {
        line.append("}\n")
        line.bytes.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, self.file) }
        self.lines += 1
    }

    func flush() { fflush(self.file) }

    /// CLOCK_REALTIME in nanoseconds: the clock QEMU's `-msg timestamp=on` trace lines use.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

/// A line of `rings.jsonl` about a queue, built as UTF-8 bytes; the writer closes it. The
/// sampler writes one for every entry it reads, and a line interpolated and joined from
/// strings piece by piece cost it about 4 µs on a packed Linux boot — time in which it reads
/// no other queue.
struct RecordLine {
    fileprivate(set) var bytes: [UInt8] = []

    /// `{"kind": KIND, "t": now, LOCATION` (a queue's ``WatchedQueue/location``), fields to follow.
    init(_ kind: StaticString, location: String) {
        self.bytes.reserveCapacity(256)
        self.append("{\"kind\": \"")
        self.append(kind)
        self.append("\", \"t\": ")
        self.append(RingRecordWriter.now())
        self.append(", ")
        self.append(location)
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { self.bytes.append(contentsOf: $0) }
    }

    mutating func append(_ text: String) { self.bytes.append(contentsOf: text.utf8) }

    /// `value` in decimal.
    mutating func append(_ value: some BinaryInteger) {
        if value < 0 { self.bytes.append(0x2D) }
        var rest = UInt64(truncatingIfNeeded: value.magnitude)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            self.bytes.append(contentsOf: digits[start...])
        }
    }

    /// `, "NAME": VALUE`.
    mutating func field(_ name: StaticString, _ value: some BinaryInteger) {
        self.append(", \"")
        self.append(name)
        self.append("\": ")
        self.append(value)
    }

    /// `, "NAME": true` or `false`.
    mutating func field(_ name: StaticString, _ value: Bool) {
        self.append(", \"")
        self.append(name)
        self.append(value ? "\": true" : "\": false")
    }

    /// `, "NAME": "TEXT"`, `text` escaped for JSON.
    mutating func field(_ name: StaticString, string text: String) {
        self.append(", \"")
        self.append(name)
        self.append("\": ")
        self.append(JSONWriter.quoted(text))
    }

    /// `, "NAME": "HEX"`: `data` two lowercase hex digits a byte.
    mutating func field(_ name: StaticString, hex data: some Collection<UInt8>) {
        self.append(", \"")
        self.append(name)
        self.append("\": \"")
        self.bytes.reserveCapacity(self.bytes.count + 2 * data.count + 1)
        for byte in data {
            self.bytes.append(Self.hexDigit(byte >> 4))
            self.bytes.append(Self.hexDigit(byte & 15))
        }
        self.bytes.append(0x22)
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble }
}
