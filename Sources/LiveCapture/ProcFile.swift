#if canImport(Glibc)
import Glibc
#endif

/// Small files of /proc, read whole and parsed without trusting them.
enum ProcFile {
    /// The decimal numbers of a space-separated line, up to the first field that is not one
    /// (a number too large for 64 bits ends the list too).
    static func numbers(_ line: ArraySlice<UInt8>) -> [UInt64] {
        var numbers: [UInt64] = []
        for field in line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }) {
            guard field.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let value = UInt64(String(decoding: field, as: UTF8.self))
            else { break }
            numbers.append(value)
        }
        return numbers
    }

    /// The process's peak resident set size (VmHWM in `/proc/self/status`), in KiB.
    static func peakResidentKiB() -> Int? {
        SmallFile.read("/proc/self/status", limit: 1 << 16).flatMap { Self.peakResidentKiB(status: $0) }
    }

    /// The VmHWM line of a `status` file: "VmHWM:\t   31744 kB".
    static func peakResidentKiB(status: [UInt8]) -> Int? {
        let label = Array("VmHWM:".utf8)
        for line in status.split(separator: UInt8(ascii: "\n")) where line.starts(with: label) {
            let value = line.dropFirst(label.count).drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            return Self.numbers(value).first.map { Int(clamping: $0) }
        }
        return nil
    }
}
