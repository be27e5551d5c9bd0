import Foundation
import Testing
import VirtioAnalysis

@testable import LiveCapture

/// A run directory comes from anywhere: its `rings.jsonl` is read with bounded memory, and
/// what it cannot be is said with line numbers, never a trap.
struct HostileRecordingTests {
    static func directory(_ lines: [String]) throws -> String {
        let directory = NSTemporaryDirectory() + "vqscope-hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/rings.jsonl", atomically: true, encoding: .utf8)
        return directory
    }

    static func queue(_ device: String, _ index: Int = 0, size: Int = 8, type: String = "block") -> String {
        #"{"kind": "queue", "t": 1, "device": "\#(device)", "type": "\#(type)", "queue": \#(index), "size": \#(size), "features": 0, "role": "rx"}"#
    }

    @Test("a line over 1 MiB, and 100 lines of garbage: named with their numbers (20, then a count)")
    func garbage() throws {
        let long = #"{"kind": "avail", "pad": ""# + String(repeating: "x", count: 2 << 20) + #""}"#
        let directory = try Self.directory([Self.queue("blk")] + [long] + Array(repeating: "\u{1}garbage{", count: 100))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let replay = try RecordedRun.replay(directory: directory)
        #expect(replay.problems.count == 21)
        #expect(replay.problems.first == directory + "/rings.jsonl:2: a line over 1 MiB")
        #expect(replay.problems.last == directory + "/rings.jsonl: 81 more lines that are not ring records")
    }

    @Test("5,000 queues and 100,000 offers on a ring of 8: TRACE-MODEL-LIMITS once, the offers held no more than the size")
    func limits() throws {
        var lines = (0..<5000).map { Self.queue("blk\($0)") }
        lines += (0..<100_000).map { #"{"kind": "avail", "t": \#($0), "device": "blk0", "queue": 0, "index": \#($0), "head": \#($0 % 8), "writable": 1, "defects": []}"# }
        lines.append(#"{"kind": "used", "t": 1, "device": "blk0", "queue": 0, "index": 0, "id": 3, "len": 1}"#)
        let directory = try Self.directory(lines)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let replay = try RecordedRun.replay(directory: directory)
        #expect(replay.problems.isEmpty)
        #expect(replay.queues.count == 4096)
        #expect(replay.findings.kept.map(\.rule.id) == ["TRACE-MODEL-LIMITS"])
        let first = try #require(replay.queues.first { $0.device == "blk0" })
        #expect(first.availEntries == 100_000 && first.usedEntries == 1)
    }

    @Test("a received packet whose num_buffers asks for 65,535 buffers stops at 64 KiB, named")
    func endlessPacket() throws {
        // Mergeable receive buffers (feature bit 15), a 12-byte header saying 65,535 buffers.
        var lines = [Self.queue("net", size: 256, type: "net").replacingOccurrences(of: #""features": 0"#, with: #""features": 32768"#)]
        let header = "000000000000000000000" + "0ffff"
        let data = String(header.prefix(20)) + "ffff" + String(repeating: "ab", count: 1500)
        lines += (0..<60).map { #"{"kind": "used", "t": 1, "device": "net", "queue": 0, "index": \#($0), "id": 0, "len": 1512, "data": "\#(data)"}"# }
        let directory = try Self.directory(lines)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var frames = 0
        let problems = try RecordedFrames.read(path: directory + "/rings.jsonl") { _, _ in frames += 1 }
        #expect(frames == 0)
        #expect(problems.problems.first?.hasSuffix("a received packet of more than 64 KiB (num_buffers 65492 to go)") == true)
    }

    @Test("missed counts near Int.max or negative: saturated, no trap")
    func hugeCounts() throws {
        let directory = try Self.directory([
            Self.queue("blk"),
            #"{"kind": "missed", "t": 1, "device": "blk", "queue": 0, "avail": 9223372036854775807, "used": 1}"#,
            #"{"kind": "missed", "t": 2, "device": "blk", "queue": 0, "avail": 9223372036854775807}"#,
            #"{"kind": "missed", "t": 3, "device": "blk", "queue": 0, "avail": -5}"#,
            #"{"kind": "avail", "t": 4, "device": "blk", "queue": 0, "index": 0, "head": 0, "stale": true}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let replay = try RecordedRun.replay(directory: directory)
        #expect(replay.problems.isEmpty && replay.queues.first?.missed == Int.max)
        // The file's `avail` counts offers, `used` completions — lost in the watch, or (`beforeAttach`)
        // made before it — each kept apart, saturating.
        let counts = try Self.directory([
            Self.queue("blk"), Self.queue("net", type: "net"),
            #"{"kind": "missed", "t": 1, "device": "blk", "queue": 0, "avail": 3, "used": 2}"#,
            #"{"kind": "missed", "t": 2, "device": "blk", "queue": 0, "used": 9223372036854775807}"#,
            #"{"kind": "missed", "t": 3, "device": "net", "queue": 0, "used": 4, "beforeAttach": true}"#,
            #"{"kind": "missed", "t": 4, "device": "net", "queue": 0, "avail": 1, "used": -7}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: counts) }
        let queues = try RecordedRun.replay(directory: counts).queues
        #expect(queues.map(\.device) == ["blk", "net"] && queues.map(\.missed) == [Int.max, 5])
        #expect(queues.map(\.missedCompletions) == [Int.max, 0] && queues.map(\.completionsBeforeWatch) == [0, 4])
    }

    @Test("waits for a notification: times at the ends of Int64, indices past 16 bits, 70,000 of them — bounded, no trap")
    func hostileWaits() throws {
        let max = Int64.max
        let min = Int64.min
        var lines = [Self.queue("blk")]
        lines.append(#"{"kind": "awaiting", "t": \#(max), "device": "blk", "queue": 0, "notification": "available", "index": 70000, "reached": -1, "from": \#(min), "seen": \#(min), "last": \#(max)}"#)
        lines.append(#"{"kind": "awaiting", "t": \#(min), "device": "blk", "queue": 0, "notification": "used", "index": 1, "reached": 2, "from": \#(max), "seen": 0, "last": \#(max)}"#)
        lines += (0..<70_000).map { #"{"kind": "awaiting", "t": \#($0 * 3_000_000_000 + 2_000_000_000), "device": "blk", "queue": 0, "notification": "available", "index": 1, "reached": 2, "from": \#($0 * 3_000_000_000), "seen": \#($0 * 3_000_000_000), "last": \#($0 * 3_000_000_000 + 1_500_000_000)}"# }
        let directory = try Self.directory(lines)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let replay = try RecordedRun.replay(directory: directory)
        #expect(replay.problems.isEmpty && replay.waits.count == 65_536)
        #expect(replay.waits.first?.index == 4464 && replay.waits.first?.waited == Int64.max)
        #expect(replay.findings.kept.map(\.rule.id) == ["TRACE-MODEL-LIMITS"])
    }
}
