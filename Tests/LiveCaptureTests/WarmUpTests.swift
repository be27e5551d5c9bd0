import Foundation
import Testing

@testable import LiveCapture

/// The sampler's warm-up (``WarmUp``): its rings must be read as a guest's are, or it would
/// warm the error paths instead of the ones a guest's first requests take.
struct WarmUpTests {
    @Test("each of the eight kinds of chain, on a split and on a packed ring, is recorded as made available and used: nothing missed, late, stale or judged a defect; no scratch file left behind")
    func recordsEveryKind() throws {
        let ram = try RingWatcherTests.GuestRAM()
        let scratch = { Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("vqscope-warm-up-") } }
        let before = scratch()
        WarmUp.run(into: ram.writer)
        let avail = try ram.lines("avail")
        let used = try ram.lines("used")
        #expect(avail.count == 16 && used.count == 16)
        #expect(avail.allSatisfy { $0["late"] == nil && $0["stale"] == nil && ($0["defects"] as? [Any])?.isEmpty == true })
        #expect(used.allSatisfy { $0["unread"] == nil })
        #expect(try ram.lines("missed").isEmpty && ram.lines("suspended").isEmpty)
        // The net receive buffer's bytes are copied, the transmitted frame's too.
        #expect(used.filter { $0["data"] != nil }.count == 2 && avail.filter { $0["data"] != nil }.count == 2)
        #expect(scratch() == before)
    }
}
