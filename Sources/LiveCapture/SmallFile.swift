#if canImport(Glibc)
import Glibc
#endif

/// A file small enough to be read whole: a manifest, a file of /proc.
enum SmallFile {
    /// The file at `path`, whole; nil if it cannot be read or is larger than `limit`. Its
    /// size is not asked beforehand: /proc's files say 0, and a file may grow as it is read.
    /// Opened without blocking, so that a FIFO in its place gives what is there, not a hang.
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            guard count > 0 else { break }
            filled += count
        }
        return filled <= limit ? Array(bytes[..<filled]) : nil
    }
}
