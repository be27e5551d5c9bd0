#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level helpers for the line decoder, so no line becomes a `String` unless it must.
enum Bytes {
    /// Whether `needle` occurs in `haystack` (memchr for the first byte, then memcmp).
    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard needle.count <= haystack.count, let base = haystack.baseAddress else { return false }
        let last = haystack.count - needle.count
        var index = 0
        return needle.withUnsafeBufferPointer { pattern in
            while index <= last {
                guard let hit = memchr(base + index, Int32(first), last - index + 1) else { return false }
                index = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                if memcmp(base + index, pattern.baseAddress!, pattern.count) == 0 { return true }
                index += 1
            }
            return false
        }
    }

    /// Whether two byte runs are equal.
    @inline(__always)
    static func equal(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard let left = lhs.baseAddress, !rhs.isEmpty else { return true }
        return rhs.withUnsafeBufferPointer { memcmp(left, $0.baseAddress!, lhs.count) == 0 }
    }

    static let virtio: [UInt8] = Array("virtio".utf8)
}
