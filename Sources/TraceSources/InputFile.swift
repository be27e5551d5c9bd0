#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A trace input read sequentially in chunks: a file, standard input (`-`), or an
/// xz-compressed file decompressed on the fly by the system's `xz -dc`.
///
/// Memory is bounded by the caller's buffer; the file is never read whole.
public final class InputFile {
    public let path: String
    private var descriptor: Int32
    private var child: pid_t?
    /// Bytes already read for format detection, handed out before the rest.
    private var pending: [UInt8]
    /// True when the input was xz-compressed.
    public let decompressed: Bool

    /// The first bytes of an xz stream. Spec: the .xz file format, §2.1.1.1.
    static let xzMagic: [UInt8] = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]

    public init(path: String) throws(InputError) {
        self.path = path
        if path == "-" {
            self.descriptor = STDIN_FILENO
            self.pending = []
            self.decompressed = false
            return
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw errno == ENOENT || errno == ENOTDIR ? .missing(path: path) : .unreadable(path: path, errno: errno)
        }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw .unreadable(path: path, errno: EISDIR) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        var head = [UInt8](repeating: 0, count: Self.xzMagic.count)
        let got = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if got == Self.xzMagic.count, head == Self.xzMagic {
            close(fd)
            let (pipeFD, pid) = try Self.spawnDecompressor(path: path)
            self.descriptor = pipeFD
            self.child = pid
            self.pending = []
            self.decompressed = true
        } else {
            self.descriptor = fd
            self.pending = got > 0 ? Array(head[0..<got]) : []
            self.decompressed = false
        }
    }

    deinit {
        if self.descriptor != STDIN_FILENO { close(self.descriptor) }
        if let child = self.child {
            kill(child, SIGTERM)
            var status: Int32 = 0
            waitpid(child, &status, 0)
        }
    }

    /// The first `count` bytes of what ``read(into:)`` will return (fewer at the end of the
    /// input), for telling formats apart; nothing is consumed.
    public func peek(_ count: Int) throws(InputError) -> [UInt8] {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
        defer { chunk.deallocate() }
        while self.pending.count < count {
            let wanted = count - self.pending.count
            let got = try self.readDirect(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<wanted]))
            if got == 0 { break }
            self.pending += chunk[0..<got]
        }
        return Array(self.pending.prefix(count))
    }

    /// Reads up to `buffer.count` bytes; returns 0 at the end of the input.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        if !self.pending.isEmpty {
            let count = min(buffer.count, self.pending.count)
            for index in 0..<count { buffer[index] = self.pending[index] }
            self.pending.removeFirst(count)
            return count
        }
        return try self.readDirect(into: buffer)
    }

    private func readDirect(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        while true {
            let got = Glibc.read(self.descriptor, buffer.baseAddress, buffer.count)
            if got >= 0 {
                if got == 0, let child = self.child { try self.reap(child) }
                return got
            }
            if errno == EINTR { continue }
            throw .unreadable(path: self.path, errno: errno)
        }
    }

    private func reap(_ child: pid_t) throws(InputError) {
        self.child = nil
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        if !exited || code != 0 {
            throw .undecodable(path: self.path, offset: 0, reason: "xz could not decompress the file (xz exit \(code))")
        }
    }

    private static func spawnDecompressor(path: String) throws(InputError) -> (Int32, pid_t) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw .unreadable(path: path, errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let arguments = ["xz", "-dc", "--", path]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, "xz", &actions, nil, &argv, environ)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw .undecodable(
                path: path, offset: 0, reason: "the file is xz-compressed and `xz` could not be started (install xz-utils)")
        }
        return (fds[0], pid)
    }
}
