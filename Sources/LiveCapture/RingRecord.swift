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

    func flush() { fflush(self.file) }

    /// CLOCK_REALTIME in nanoseconds: the clock QEMU's `-msg timestamp=on` trace lines use.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
