import Foundation
import Testing

@testable import LiveCapture

/// QEMU's messages passed on to the recorder's standard error (``Recorder/MessageOutlet``)
/// without ever waiting for it, through a pipe standing in for a terminal.
struct MessageOutletTests {
    /// All the bytes waiting in `descriptor` (not blocking).
    static func readAvailable(_ descriptor: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return bytes }
            bytes += chunk[0..<count]
        }
    }

    @Test("a reader that stops reading holds nothing up: what the pipe does not take waits, lines past the limit are counted; once it reads again, a line says how many were not shown and the rest follows in order")
    func stalledReader() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { for end in ends { close(end) } }
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        let line = { (index: Int) in Array(String(format: "message %06d ", index).utf8) + Array(repeating: UInt8(ascii: "."), count: 85) + [0x0A] }
        var outlet = Recorder.MessageOutlet()
        // 2 MiB of 100-byte lines, in calls of 100 KiB: the pipe takes 64 KiB, 1 MiB waits, the rest is counted.
        let lines = (0..<(2 << 20) / 100).map(line)
        for start in stride(from: 0, to: lines.count, by: 1_000) {
            outlet.pass((bytes: lines[start..<min(start + 1_000, lines.count)].flatMap { $0 }, dropped: 0), to: ends[1])
        }
        var shown = Self.readAvailable(ends[0])
        #expect(!shown.isEmpty && shown.count <= 1 << 16)
        // Read as it is written: the rest of what waited comes, with a line for what did not.
        for _ in 0..<1_000 {
            outlet.pass((bytes: [], dropped: 0), to: ends[1])
            let more = Self.readAvailable(ends[0])
            if more.isEmpty { break }
            shown += more
        }
        let text = String(decoding: shown, as: UTF8.self).split(separator: "\n")
        let notes = text.filter { $0.hasPrefix("vqscope: ") }
        let numbers = text.filter { !$0.hasPrefix("vqscope: ") }.map { Int($0.dropFirst(8).prefix(6)) }
        let counted = notes.compactMap { Int($0.dropFirst(9).prefix { $0 != " " }) }.reduce(0, +)
        #expect(!notes.isEmpty && notes.allSatisfy { $0.hasSuffix(" line(s) of QEMU's not shown here; all are in trace.log") })
        // The lines shown are the first ones, whole, in order, none twice; the notes count the rest.
        #expect(numbers == (0..<numbers.count).map { $0 })
        #expect(numbers.count + counted == lines.count)
        #expect(numbers.count * 100 <= QEMUMessages.limit + (1 << 16))
    }

    @Test("a reader gone: what waits is dropped without a signal or an error, and so is what comes after")
    func goneReader() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        close(ends[0])
        defer { close(ends[1]) }
        var outlet = Recorder.MessageOutlet()
        outlet.pass((bytes: Array("qemu-system-x86_64: terminating on signal 1\n".utf8), dropped: 3), to: ends[1])
        outlet.pass((bytes: Array("more\n".utf8), dropped: 0), patience: 0.1, to: ends[1])
        // Still here, and nothing left to write: a writable pipe gets it all.
        var again: [Int32] = [-1, -1]
        #expect(pipe(&again) == 0)
        defer { for end in again { close(end) } }
        outlet.pass((bytes: Array("next\n".utf8), dropped: 0), to: again[1])
        _ = fcntl(again[0], F_SETFL, fcntl(again[0], F_GETFL) | O_NONBLOCK)
        #expect(Self.readAvailable(again[0]) == Array("next\n".utf8))
    }
}
