/// A bounds-checked reader over little-endian bytes.
///
/// `readX` advances the cursor, `peekX(at:)` does not. A read past the end throws
/// ``DecodeError`` and leaves the cursor where it was. All multi-byte values in
/// VIRTIO 1.x structures are little-endian (spec §1.4); legacy big-endian guests are
/// out of scope.
public struct ByteCursor: Sendable {
    public let bytes: [UInt8]
    /// Offset of the next byte to read.
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { self.bytes.count - self.offset }

    /// Reads a little-endian integer at an absolute offset without moving the cursor.
    public func peek<T: FixedWidthInteger>(_: T.Type = T.self, at position: Int) throws(DecodeError) -> T {
        let size = MemoryLayout<T>.size
        guard position >= 0, position <= self.bytes.count, self.bytes.count - position >= size else {
            throw DecodeError(
                .truncated(needed: size, available: max(0, self.bytes.count - max(position, 0))),
                at: position
            )
        }
        var value: T = 0
        for index in 0..<size {
            value |= T(truncatingIfNeeded: self.bytes[position + index]) << (8 * index)
        }
        return value
    }

    /// Reads a little-endian integer and advances past it.
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(DecodeError) -> T {
        let value: T = try self.peek(at: self.offset)
        self.offset += MemoryLayout<T>.size
        return value
    }

    /// Reads `count` raw bytes and advances past them.
    public mutating func readBytes(_ count: Int) throws(DecodeError) -> [UInt8] {
        guard count >= 0, count <= self.remaining else {
            throw DecodeError(.truncated(needed: count, available: self.remaining), at: self.offset)
        }
        let slice = Array(self.bytes[self.offset..<(self.offset + count)])
        self.offset += count
        return slice
    }
}
