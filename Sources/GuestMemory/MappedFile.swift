#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory. A 4 GiB dump is never read whole: pages come in
/// as they are touched and are released with the mapping.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer

    /// Opens without blocking (a FIFO swapped in cannot hang us) and judges the file by the
    /// descriptor it opened. A file truncated by another process while mapped would still
    /// fault on access: dumps are expected to stay put while vqscope reads them.
    /// `shared`: map the file shared, so what another process writes to it (QEMU, into a
    /// guest's RAM file) is seen at once.
    public init(path: String, shared: Bool = false) throws(MemoryError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw errno == ENOENT || errno == ENOTDIR ? .missing(path: path) : .unreadable(path: path, errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, errno: errno) }
        // A directory cannot be read as a dump (as for traces, exit 66); a device or a pipe
        // cannot be mapped (65).
        guard info.st_mode & S_IFMT != S_IFDIR else { throw .unreadable(path: path, errno: EISDIR) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unsupportedFormat(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else {
            self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .unreadable(path: path, errno: errno)
        }
        self.bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = self.bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), self.bytes.count) }
    }
}
