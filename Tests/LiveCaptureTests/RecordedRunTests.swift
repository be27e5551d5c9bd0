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
}
