import Foundation
import Testing
import VirtioAnalysis
import VirtioTestSupport

@testable import LiveCapture

/// A run directory read back: received frames copied while their buffer was offered again
/// are taken where the run's trace shows the copy whole, and counted as missed where not.
struct RecordedRunTests {
    @Test("of three frames copied while offered again, the two whose copy ended before the device took another buffer are exported and not missed; the third is missed")
    func refilledFrames() throws {
        // Complete 100 µs after its fill; 2100 µs, after the take at 2000 µs; 2500 µs, after the last take.
        let run = try RefilledRunFixture.directory(copied: [200, 2100, 2500])
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let analysis = try analyze(RecordedRun.trace(in: run.path))
        let whole = try RecordedRun.wholeCopies(directory: run.path) { analysis }
        #expect(whole == [run.lines[0], run.lines[2]])
        var frames: [[UInt8]] = []
        _ = try RecordedFrames.read(path: run.path + "/rings.jsonl", whole: whole) { frame, _ in frames.append(frame.bytes) }
        #expect(frames == [0, 2].map { Array(RefilledRunFixture.frame($0).dropFirst(10)) })
        var none = 0
        _ = try RecordedFrames.read(path: run.path + "/rings.jsonl") { _, _ in none += 1 }
        #expect(none == 0)
        #expect(try RecordedRun.replay(directory: run.path, whole: whole).queues.map(\.missed) == [1, 0])
        #expect(try RecordedRun.replay(directory: run.path).queues.map(\.missed) == [3, 0])
        // As `analyze RUN_DIR` joins it.
        var report = analysis
        #expect(try RecordedRun.join(directory: run.path, into: &report).isEmpty)
        #expect(report.recordedQueues.map(\.missed) == [1, 0])
    }

    @Test("run.json read back into the analysis: QEMU's version and status, the queues' missed and late entries summed, the sampler's gaps; none without a readable manifest, late unknown from an older recorder, hostile counts clamped, a FIFO or a directory in its place read as none", .timeLimit(.minutes(1)))
    func recorderAccount() throws {
        let run = try RefilledRunFixture.directory(copied: [200])
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let manifest = run.path + "/run.json"
        func account(_ text: String?) throws -> RecorderReport? {
            if let text { try text.write(toFile: manifest, atomically: false, encoding: .utf8) } else { try? FileManager.default.removeItem(atPath: manifest) }
            var report = try analyze(RecordedRun.trace(in: run.path))
            _ = try RecordedRun.join(directory: run.path, into: &report)
            return report.recorder
        }
        let queues = #"[{"device": "a", "queue": 0, "missed": 2, "late": 1}, {"device": "a", "queue": 1, "missed": 3, "late": 0, "resets": 2}]"#
        #expect(
            try account(#"{"schema": "vqscope.run", "version": 1, "qemu": {"version": "7.2.22"}, "exitStatus": 0, "#
                + #""samplerGaps": {"overMicroseconds": 100, "count": 32, "longestMicroseconds": 5873, "waitingMicroseconds": 433862, "#
                + #""lengths": [{"fromMicroseconds": 100, "count": 30}, {"fromMicroseconds": 1000, "count": 2}], "#
                + #""stealMicroseconds": null}, "pauses": {"afterMicroseconds": 1000, "realTime": true, "count": 3, "cutShort": 1, "totalMicroseconds": 12500, "#
                + #""longestMicroseconds": 8250, "longestStallMicroseconds": 1500}, "#
                + #""traceClock": {"lines": 3468, "lagMinimumMicroseconds": 2, "lagMaximumMicroseconds": 1151}, "queues": \#(queues)}"#)
                == RecorderReport(
                    qemuVersion: "7.2.22", exitStatus: 0, missed: 5, late: 1,
                    samplerGaps: .init(
                        overMicroseconds: 100, count: 32, longestMicroseconds: 5873,
                        lengths: [.init(fromMicroseconds: 100, count: 30), .init(fromMicroseconds: 1000, count: 2)],
                        waitingMicroseconds: 433862),
                    pauses: .init(
                        afterMicroseconds: 1000, realTime: true, count: 3, cutShort: 1, totalMicroseconds: 12500, longestMicroseconds: 8250,
                        longestStallMicroseconds: 1500),
                    traceClock: .init(lines: 3468, lagMinimumMicroseconds: 2, lagMaximumMicroseconds: 1151)))
        // Before late entries and sampler gaps were counted.
        #expect(
            try account(#"{"schema": "vqscope.run", "version": 1, "exitStatus": 1, "queues": [{"missed": 4}]}"#)
                == RecorderReport(qemuVersion: nil, exitStatus: 1, missed: 4, late: nil, samplerGaps: nil))
        // Hostile counts: no trap, negative as 0, the sum held at Int.max.
        #expect(
            try account(#"{"schema": "vqscope.run", "version": 1, "queues": [{"missed": \#(Int.max)}, {"missed": 5}, {"missed": -9, "late": -1}]}"#)
                == RecorderReport(qemuVersion: nil, exitStatus: nil, missed: .max, late: 0, samplerGaps: nil))
        #expect(try account(nil) == nil)
        #expect(try account(#"{"schema": "vqscope.run", "version": 2, "queues": []}"#) == nil)
        // A FIFO or a directory in its place: none, and no hang waiting for a writer.
        try FileManager.default.removeItem(atPath: manifest)
        #expect(mkfifo(manifest, 0o600) == 0)
        #expect(RecordedRun.recorderReport(directory: run.path) == nil)
        try FileManager.default.removeItem(atPath: manifest)
        try FileManager.default.createDirectory(atPath: manifest, withIntermediateDirectories: false)
        #expect(RecordedRun.recorderReport(directory: run.path) == nil)
        try FileManager.default.removeItem(atPath: manifest)
        #expect(try account("not json") == nil)
        #expect(try account(#"{"schema": "vqscope.run", "version": 1, "pad": ""# + String(repeating: " ", count: RecordedRun.maximumManifest) + "\"}") == nil)
    }
}
