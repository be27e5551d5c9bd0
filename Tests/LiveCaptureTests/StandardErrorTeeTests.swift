import Foundation
import Testing

@testable import LiveCapture

/// QEMU's standard error copied to the recorder's own and to `qemu-stderr.log`
/// (``StandardErrorTee``), through pipes standing in for QEMU and the terminal.
struct StandardErrorTeeTests {
    static func pipeEnds() -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        return (ends[0], ends[1])
    }

    static func readAll(_ descriptor: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            guard count > 0 else { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// A tee copying from a pipe standing for QEMU's standard error to one standing for the
    /// terminal and to `qemu-stderr.log` in a directory of its own (the caller removes it).
    static func started() throws -> (directory: String, qemu: (read: Int32, write: Int32), terminal: (read: Int32, write: Int32), tee: StandardErrorTee) {
        let directory = NSTemporaryDirectory() + "vqscope-tee-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let qemu = Self.pipeEnds()
        let terminal = Self.pipeEnds()
        let tee = try StandardErrorTee(input: qemu.read, path: directory + "/qemu-stderr.log", output: terminal.write)
        return (directory, qemu, terminal, tee)
    }

    @Test("every byte to the file and to the terminal, in order, across chunks, until QEMU's end of the pipe closes")
    func copies() throws {
        let (directory, qemu, terminal, tee) = try Self.started()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The terminal read meanwhile, as a terminal is: a full pipe would hold the copy up.
        final class Shown: @unchecked Sendable {
            var bytes: [UInt8] = []
            let done = DispatchSemaphore(value: 0)
        }
        let shown = Shown()
        Thread.detachNewThread {
            shown.bytes = StandardErrorTeeTests.readAll(terminal.read)
            shown.done.signal()
        }
        // More than a chunk, so that the copy takes several reads; lines of QEMU's kind.
        var written: [UInt8] = []
        for number in 0..<2_000 {
            let line = Array("2026-11-28T02:10:38.105426Z qemu-system-x86_64: Desc next is \(number)\n".utf8)
            written += line
            #expect(line.withUnsafeBytes { write(qemu.write, $0.baseAddress, $0.count) } == line.count)
        }
        close(qemu.write)
        tee.finish(within: 5)
        close(terminal.write)
        shown.done.wait()
        close(terminal.read)
        #expect(written.count > StandardErrorTee.chunk)
        #expect(shown.bytes == written)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/qemu-stderr.log"))) == written)
    }

    @Test("a pipe some other process holds open: what came is kept, and the copy stops at the time given")
    func heldOpen() throws {
        let (directory, qemu, terminal, tee) = try Self.started()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let line = Array("qemu-system-x86_64: terminating on signal 15\n".utf8)
        #expect(line.withUnsafeBytes { write(qemu.write, $0.baseAddress, $0.count) } == line.count)
        // Read by the copy before the deadline is set: the file has the line.
        var waited = 0
        while waited < 500, (try? Data(contentsOf: URL(fileURLWithPath: directory + "/qemu-stderr.log")))?.count != line.count {
            usleep(10_000)
            waited += 1
        }
        tee.finish(within: 0.1)
        close(qemu.write)
        close(terminal.write)
        #expect(Self.readAll(terminal.read) == line)
        close(terminal.read)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/qemu-stderr.log"))) == line)
    }
}
