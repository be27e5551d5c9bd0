import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// QEMU's standard error, passed on to the recorder's own and kept in `RUN/qemu-stderr.log`.
/// The trace goes to its `-D` file, but QEMU prints `virtio_error`'s messages ("Desc next is
/// …", "Looped descriptor", a malformed request's) with `error_report`, on standard error
/// only; kept, `analyze RUN_DIR` reads them as a trace of their own (`-msg timestamp=on`
/// stamps them too). A thread of its own copies what the pipe holds as it comes, in chunks,
/// holding nothing back.
final class StandardErrorTee: @unchecked Sendable {
    /// The run directory's file.
    static let fileName = "qemu-stderr.log"
    /// Bytes read at a time.
    static let chunk = 1 << 16

    private let input: Int32
    private let output: Int32
    private let file: UnsafeMutablePointer<FILE>
    private var thread = pthread_t()
    /// When the copy stops even before the pipe's end (a process QEMU started may hold the pipe
    /// open): the bits of a ``QMPConnection/now()``; 0, none set.
    private let deadline = Atomic<UInt64>(0)

    /// Copies `input` (the pipe's reading end, which this closes) to `output` and to `path`.
    init(input: Int32, path: String, output: Int32 = STDERR_FILENO) throws(RecordError) {
        guard let file = fopen(path, "w") else {
            close(input)
            throw .io("\(path): cannot create: \(String(cString: strerror(errno)))")
        }
        (self.input, self.output, self.file) = (input, output, file)
        do {
            self.thread = try ThreadStart.start("the standard error thread") { self.copy() }
        } catch {
            fclose(file)
            close(input)
            throw error
        }
    }

    /// Once QEMU has exited: copies what is left until the pipe's end, for at most `seconds`.
    func finish(within seconds: Double) {
        self.deadline.store((QMPConnection.now() + max(seconds, 0)).bitPattern, ordering: .relaxed)
        pthread_join(self.thread, nil)
        fclose(self.file)
        close(self.input)
    }

    private func copy() {
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        while true {
            let deadline = self.deadline.load(ordering: .relaxed)
            if deadline != 0, QMPConnection.now() >= Double(bitPattern: deadline) { return }
            var ready = pollfd(fd: self.input, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 50) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(self.input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            buffer.withUnsafeBytes { bytes in
                var written = 0
                while written < count {
                    let step = write(self.output, bytes.baseAddress! + written, count - written)
                    if step < 0, errno == EINTR { continue }
                    guard step > 0 else { break }
                    written += step
                }
                _ = fwrite(bytes.baseAddress, 1, count, self.file)
            }
            fflush(self.file)
        }
    }
}
