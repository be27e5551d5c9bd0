#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line handed out by ``LineReader``; `bytes` is valid until the next call to `next()`.
public struct LineSlice {
    /// The line without its newline (at most `maximumLineLength` bytes of it when `overlong`).
    public var bytes: UnsafeBufferPointer<UInt8>
    /// 1-based line number.
    public var number: Int
    /// Byte offset of the line's first byte in the input.
    public var offset: UInt64
    /// The line had no newline: the input ended inside it.
    public var unterminated: Bool
    /// The line was longer than `maximumLineLength`; the rest was skipped without buffering.
    public var overlong: Bool
}

/// Splits a byte stream into lines with bounded memory.
///
/// A line longer than `maximumLineLength` is reported once (its first bytes, flagged
/// `overlong`) and the rest of it is skipped as it streams past, so a 10 MB line costs
/// no more memory than a short one. A value type, so its positions are checked for exclusive
/// access at compile time; the buffer it owns is released with the last copy.
public struct LineReader {
    public let maximumLineLength: Int
    /// Bytes asked of the input per read (the buffer holds at least two maximal lines).
    public let chunkSize: Int
    private let input: InputFile
    private let storage: LineBuffer
    private var buffer: UnsafeMutableRawBufferPointer { self.storage.bytes }
    private var start = 0
    private var end = 0
    private var atEOF = false
    private var lineNumber = 0
    private var consumed: UInt64 = 0
    /// Total bytes read from the input so far.
    public private(set) var bytesRead: UInt64 = 0

    public init(input: InputFile, maximumLineLength: Int = 64 * 1024, chunkSize: Int = 1 << 20) {
        self.input = input
        self.maximumLineLength = maximumLineLength
        self.chunkSize = max(1, chunkSize)
        self.storage = LineBuffer(byteCount: max(chunkSize, maximumLineLength * 2))
    }

    /// The next line, or `nil` at the end of the input.
    public mutating func next() throws(InputError) -> LineSlice? {
        while true {
            let base = self.buffer.baseAddress!
            if self.start < self.end,
                let newline = memchr(base + self.start, 0x0A, self.end - self.start)
            {
                let length = base.distance(to: UnsafeMutableRawPointer(newline)) - self.start
                if length > self.maximumLineLength {
                    return self.emit(length: self.maximumLineLength, skip: length + 1, unterminated: false, overlong: true)
                }
                return self.emit(length: length, skip: length + 1, unterminated: false, overlong: false)
            }
            let pendingLength = self.end - self.start
            if pendingLength > self.maximumLineLength {
                return try self.emitOverlong()
            }
            if self.atEOF {
                guard pendingLength > 0 else { return nil }
                return self.emit(length: pendingLength, skip: pendingLength, unterminated: true, overlong: false)
            }
            try self.refill()
        }
    }

    private mutating func emit(length: Int, skip: Int, unterminated: Bool, overlong: Bool) -> LineSlice {
        self.lineNumber += 1
        let pointer = self.buffer.baseAddress!.advanced(by: self.start).assumingMemoryBound(to: UInt8.self)
        let slice = LineSlice(
            bytes: UnsafeBufferPointer(start: pointer, count: length), number: self.lineNumber,
            offset: self.consumed, unterminated: unterminated, overlong: overlong)
        self.start += skip
        self.consumed += UInt64(skip)
        return slice
    }

    /// Hands out the first bytes of an over-long line, then discards input up to its newline.
    private mutating func emitOverlong() throws(InputError) -> LineSlice {
        self.lineNumber += 1
        let lineOffset = self.consumed
        // Keep the head of the line at the front of the buffer, then stream past the rest.
        let base = self.buffer.baseAddress!
        memmove(base, base + self.start, self.maximumLineLength)
        let tailStart = self.start + self.maximumLineLength
        var skipped = UInt64(self.end - self.start)
        var tail = self.end - tailStart
        var unterminated = true
        // Search the tail already buffered, then fresh chunks read behind the kept head.
        var searchFrom = self.maximumLineLength
        if tail > 0 { memmove(base + searchFrom, base + tailStart, tail) }
        while true {
            if tail > 0, let newline = memchr(base + searchFrom, 0x0A, tail) {
                let used = base.distance(to: UnsafeMutableRawPointer(newline)) - searchFrom + 1
                skipped = skipped - UInt64(tail) + UInt64(used)
                let leftover = tail - used
                memmove(base + self.maximumLineLength, base + searchFrom + used, leftover)
                self.start = 0
                self.end = self.maximumLineLength + leftover
                unterminated = false
                break
            }
            searchFrom = self.maximumLineLength
            let room = UnsafeMutableRawBufferPointer(
                start: base + searchFrom, count: min(self.buffer.count - searchFrom, self.chunkSize))
            let got = try self.input.read(into: room)
            self.bytesRead += UInt64(got)
            if got == 0 {
                self.atEOF = true
                self.start = 0
                self.end = self.maximumLineLength
                break
            }
            tail = got
            skipped += UInt64(got)
        }
        let pointer = base.assumingMemoryBound(to: UInt8.self)
        let slice = LineSlice(
            bytes: UnsafeBufferPointer(start: pointer, count: self.maximumLineLength), number: self.lineNumber,
            offset: lineOffset, unterminated: unterminated, overlong: true)
        // The kept head is consumed by this call; what follows it in the buffer is the next line.
        self.start = self.maximumLineLength
        self.consumed = lineOffset + skipped
        return slice
    }

    private mutating func refill() throws(InputError) {
        let base = self.buffer.baseAddress!
        if self.start > 0 {
            let pending = self.end - self.start
            if pending > 0 { memmove(base, base + self.start, pending) }
            self.start = 0
            self.end = pending
        }
        let room = UnsafeMutableRawBufferPointer(
            start: base + self.end, count: min(self.buffer.count - self.end, self.chunkSize))
        let got = try self.input.read(into: room)
        if got == 0 {
            self.atEOF = true
            return
        }
        self.end += got
        self.bytesRead += UInt64(got)
    }
}

/// The chunk buffer a ``LineReader`` reads into, freed with the last reader that holds it.
final class LineBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) { self.bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 16) }

    deinit { self.bytes.deallocate() }
}
