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

/// The last few device names read from PCI config and memory-region records, with the
/// `String` each became (nil for a device that is not a virtio one): a handful of names recur
/// in every access, and a name seen before is compared rather than decoded again.
struct RecentNames {
    static let capacity = 8
    private var names: [[UInt8]] = []
    private var strings: [String?] = []
    private var next = 0

    /// What `bytes` became when it was last seen (`.some(nil)`: not a virtio device's name),
    /// or nil for a name not among the recent ones.
    func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> String?? {
        for index in self.names.indices where Bytes.equal(bytes, self.names[index]) { return .some(self.strings[index]) }
        return nil
    }

    mutating func remember(_ bytes: UnsafeBufferPointer<UInt8>, as string: String?) {
        if self.names.count < Self.capacity {
            self.names.append(Array(bytes))
            self.strings.append(string)
        } else {
            self.names[self.next] = Array(bytes)
            self.strings[self.next] = string
            self.next = (self.next + 1) % Self.capacity
        }
    }
}
