#if canImport(Glibc)
import Glibc
#endif

/// Follows the trace QEMU writes during a recording for its `virtio_set_status` events, so that
/// a device reaching DRIVER_OK (or being reset) is asked about at once rather than at the next
/// periodic QMP poll: firmware makes its first requests right after DRIVER_OK.
final class TraceTail {
    private let path: String
    private var descriptor: Int32 = -1
    private var offset: off_t = 0
    /// The end of the text read so far, for an event name cut by a read.
    private var carry: [UInt8] = []
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private static let needle = Array("virtio_set_status".utf8)

    init(path: String) { self.path = path }

    /// Whether `text` holds the event name: memchr to each `v`, memcmp there.
    static func contains(_ text: [UInt8]) -> Bool {
        text.withUnsafeBytes { haystack in
            Self.needle.withUnsafeBytes { needle in
                guard let start = haystack.baseAddress, let wanted = needle.baseAddress, haystack.count >= needle.count else { return false }
                var position = 0
                let last = haystack.count - needle.count
                while position <= last, let hit = memchr(start + position, Int32(needle[0]), last - position + 1) {
                    position = UnsafeRawPointer(hit) - start
                    if memcmp(hit, wanted, needle.count) == 0 { return true }
                    position += 1
                }
                return false
            }
        }
    }

    deinit { if self.descriptor >= 0 { close(self.descriptor) } }

    /// True when the trace has grown by a `virtio_set_status` event since the last call. Reads
    /// at most 1 MiB a call, so a busy trace costs bounded time; what is skipped is only looked
    /// at for this event, never decoded (`vqscope analyze` reads the whole trace afterwards).
    func statusChanged() -> Bool {
        if self.descriptor < 0 {
            self.descriptor = open(self.path, O_RDONLY)
            if self.descriptor < 0 { return false }
        }
        var found = false
        for _ in 0..<16 {
            let count = self.buffer.withUnsafeMutableBytes { pread(self.descriptor, $0.baseAddress, $0.count, self.offset) }
            guard count > 0 else { break }
            self.offset += off_t(count)
            let text = self.carry + self.buffer[0..<count]
            found = found || Self.contains(text)
            self.carry = Array(text.suffix(Self.needle.count - 1))
        }
        return found
    }
}
