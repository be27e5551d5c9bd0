import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioTestSupport

/// `analyze TRACE --dump DUMP`: the trace and the dump of one run, joined.
struct DumpJoinTests {
    static let trace = Fixtures.path("traces/rules/DUMP-TRACE-MISMATCH/trace.handwritten.log")

    static func layout(avail: String, used: String) throws -> MemoryFixture {
        try MemoryFixture(json: """
            {"base": "0x0", "size": 65536, "queue": {"desc": "0x1000", "avail": "0x2000", "used": "0x3000", "size": 128},
             "descriptors": [{"index": 0, "addr": "0x8000", "len": 16, "flags": ["write"]},
                             {"index": 1, "addr": "0x8100", "len": 16, "flags": ["write"]}],
             "avail": \(avail), "used": \(used)}
            """)
    }

    static func mismatches(_ report: AnalysisReport) -> [String] {
        report.findings.filter { $0.rule.id == "DUMP-TRACE-MISMATCH" }.map(\.message)
    }

    @Test("the dump's findings join the trace's, and the dump's queue is paired by device label")
    func joined() throws {
        let fixture = try Self.layout(avail: #"{"idx": 3, "ring": [0, 1, 200]}"#, used: #"{"idx": 2, "ring": [[0, 16], [1, 12]]}"#)
        let report = try fixture.joined(withTrace: Self.trace)
        // Head 200 of a 128-entry queue, offered after the two the trace completed: the dump's own finding.
        #expect(report.findings.map(\.rule.id) == ["SPLIT-HEAD-IN-RANGE"])
        #expect(report.findings.first?.location.device == "entropy@0x55d0c0005000" && report.findings.first?.location.queue == 0)
        #expect(report.findingCounts == ["SPLIT-HEAD-IN-RANGE": 1] && report.totalFindings == 1)
    }

    @Test("used.idx other than the trace's flushed count")
    func usedIndex() throws {
        let fixture = try Self.layout(avail: #"{"idx": 3, "ring": [0, 1, 0]}"#, used: #"{"idx": 3, "ring": [[0, 16], [1, 12], [0, 16]]}"#)
        #expect(Self.mismatches(try fixture.joined(withTrace: Self.trace)) == [
            "used.idx 3 in the dump, but the trace shows 2 elements flushed since the last reset (2 modulo 65536)"
        ])
    }

    @Test("more requests in flight in the trace than chains outstanding in memory")
    func inFlight() throws {
        let text = try #require(Fixtures.text("traces/rules/DUMP-TRACE-MISMATCH/trace.handwritten.log"))
        let file = TemporaryFile(
            text: text + "100@1700000000.000360:virtqueue_pop vq 0x7f0000002000 elem 0x55d0c0003200 in_num 1 out_num 0\n")
        defer { file.remove() }
        let fixture = try Self.layout(avail: #"{"idx": 2, "ring": [0, 1]}"#, used: #"{"idx": 2, "ring": [[0, 16], [1, 12]]}"#)
        #expect(Self.mismatches(try fixture.joined(withTrace: file.path)) == [
            "the trace ends with 1 requests in flight, but the dump shows only 0 chains between used.idx and avail.idx"
        ])
    }

    static func completed(head0: String, head1: String) throws -> MemoryFixture {
        try MemoryFixture(json: """
            {"base": "0x0", "size": 65536, "queue": {"desc": "0x1000", "avail": "0x2000", "used": "0x3000", "size": 128},
             "descriptors": [{"index": 0, "addr": "0x8000", \(head0)}, {"index": 1, "addr": "0x8100", \(head1)}],
             "avail": {"idx": 2, "ring": [0, 1]}, "used": {"idx": 2, "ring": [[0, 16], [1, 12]]}}
            """)
    }

    @Test("a completed chain the driver is rewriting (head 1 now readable, its used element 12 bytes written) is judged alone, not against a trace showing QEMU took one writable buffer for it; one as QEMU took it still is")
    func rewrittenChain() throws {
        let rewritten = try Self.completed(head0: #""len": 16, "flags": ["write"]"#, head1: #""len": 16, "flags": []"#)
        #expect(try rewritten.inspect().findings.map(\.message) == ["used element 1 (head 1) reports 12 bytes written, the chain has 0 writable"])
        #expect(try rewritten.joined(withTrace: Self.trace).findings.isEmpty)
        // Head 0 shorter than its used length, with the shape QEMU took: judged with the trace too.
        let short = try Self.completed(head0: #""len": 8, "flags": ["write"]"#, head1: #""len": 16, "flags": ["write"]"#)
        #expect(try short.joined(withTrace: Self.trace).findings.map(\.message) == ["used element 0 (head 0) reports 16 bytes written, the chain has 8 writable"])
    }
}
