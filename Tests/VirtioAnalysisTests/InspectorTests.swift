import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioTestSupport

/// Memory-based findings under the rule IDs the trace side also uses.
struct InspectorTests {
    /// A clean one-chain queue; `descriptors`, `avail` and `used` replace the defaults.
    static func layout(descriptors: String? = nil, avail: String = #"{"idx": 1, "ring": [0]}"#, used: String = #"{"idx": 0}"#, size: Int = 8, indirect: String = "true") -> String {
        let chain = descriptors ?? """
            [{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 1},
             {"index": 1, "addr": "0x40009000", "len": 513, "flags": ["write"]}]
            """
        return """
            {"base": "0x40000000", "size": 65536, "indirect": \(indirect),
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": \(size)},
             "descriptors": \(chain), "avail": \(avail), "used": \(used)}
            """
    }

    static func rules(_ json: String) throws -> [String] {
        try MemoryFixture(json: json).inspect().findings.map(\.rule.id)
    }

    @Test("a clean queue: one owned chain, indices and byte counts")
    func clean() throws {
        let report = try MemoryFixture(json: Self.layout()).inspect()
        #expect(report.findings.isEmpty)
        let queue = try #require(report.queues.first)
        #expect(queue.availIndex == 1 && queue.usedIndex == 0 && queue.outstanding == 1)
        #expect(queue.chains.first?.readableBytes == 16 && queue.chains.first?.writableBytes == 513)
    }

    @Test("chain defects map to the catalogue's rules", arguments: [
        (#"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 9}]"#, "SPLIT-NEXT-IN-RANGE"),
        (#"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 0}]"#, "SPLIT-CHAIN-NO-LOOP"),
        (#"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next", "write"], "next": 1}, {"index": 1, "addr": "0x40009000", "len": 16, "flags": []}]"#, "SPLIT-CHAIN-RW-ORDER"),
        (#"[{"index": 0, "addr": "0x40004000", "len": 24, "flags": ["indirect"]}]"#, "SPLIT-INDIRECT-LEN"),
        (#"[{"index": 0, "addr": "0x90000000", "len": 16, "flags": []}]"#, "FEAT-ACCESS_PLATFORM-ADDR"),
        (#"[{"index": 0, "addr": "0x40004000", "len": 4294967280, "flags": ["indirect"]}]"#, "FEAT-ACCESS_PLATFORM-ADDR"),
    ])
    func chainDefects(descriptors: String, rule: String) throws {
        #expect(try Self.rules(Self.layout(descriptors: descriptors)) == [rule])
    }

    @Test("INDIRECT without the feature is FEAT-INDIRECT-GATED")
    func indirectGated() throws {
        let descriptors = """
            [{"index": 0, "addr": "0x40004000", "len": 16, "flags": ["indirect"]},
             {"table": "0x40004000", "index": 0, "addr": "0x40008000", "len": 16, "flags": []}]
            """
        #expect(try Self.rules(Self.layout(descriptors: descriptors, indirect: "false")) == ["FEAT-INDIRECT-GATED"])
        #expect(try Self.rules(Self.layout(descriptors: descriptors, indirect: "true")) == [])
    }

    @Test("ring indices: a head out of range, more outstanding than the size, a used id out of range")
    func indices() throws {
        #expect(try Self.rules(Self.layout(avail: #"{"idx": 1, "ring": [12]}"#)) == ["SPLIT-HEAD-IN-RANGE"])
        // 9 outstanding in a queue of 8: the window rule; the 8 walked one-descriptor chains are fine.
        let single = #"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": []}]"#
        #expect(try Self.rules(Self.layout(descriptors: single, avail: #"{"idx": 9, "ring": [0,1,2,3,4,5,6,7]}"#)) == ["SPLIT-AVAIL-IDX-WINDOW"])
        #expect(try Self.rules(Self.layout(avail: #"{"idx": 2, "ring": [0, 0]}"#, used: #"{"idx": 1, "ring": [[77, 4]]}"#)) == ["SPLIT-USED-ID-OWNED"])
    }

    @Test("used.idx ahead of avail.idx is SPLIT-USED-IDX-WINDOW, and no chain is treated as owned")
    func usedAhead() throws {
        let report = try MemoryFixture(json: Self.layout(avail: #"{"idx": 1, "ring": [0]}"#, used: #"{"idx": 3, "ring": [[0, 4], [0, 4], [0, 4]]}"#)).inspect()
        #expect(report.findings.map(\.rule.id) == ["SPLIT-USED-IDX-WINDOW"])
        #expect(report.queues.first?.outstanding == 0 && report.queues.first?.chains.isEmpty == true)
    }

    @Test("a head already back in the used ring is not walked as owned (out-of-order completion)")
    func completedOutOfOrder() throws {
        // Heads 0..3 offered; the device returned 2 then 0 (used.idx 2 of avail.idx 4): 1 and 3
        // are owned, but only the last two offers (2, 3) are certainly recent, and 2 is back.
        let descriptors = """
            [{"index": 0, "addr": "0x40008000", "len": 16, "flags": []},
             {"index": 1, "addr": "0x40008100", "len": 16, "flags": []},
             {"index": 2, "addr": "0x40008200", "len": 16, "flags": ["next"], "next": 2},
             {"index": 3, "addr": "0x40008300", "len": 16, "flags": []}]
            """
        let json = Self.layout(descriptors: descriptors, avail: #"{"idx": 4, "ring": [0, 1, 2, 3]}"#, used: #"{"idx": 2, "ring": [[2, 0], [0, 0]]}"#)
        let report = try MemoryFixture(json: json).inspect()
        // Head 2's stale self-loop is not reported: it is back with the driver.
        #expect(report.findings.isEmpty)
        #expect(report.queues.first?.chains.map(\.head) == [3])
    }

    @Test("a chain longer than the queue size names its length and the limit")
    func tooLong() throws {
        // Queue size 2; one indirect descriptor whose table holds 3 descriptors.
        let descriptors = """
            [{"index": 0, "addr": "0x40004000", "len": 48, "flags": ["indirect"]},
             {"table": "0x40004000", "index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 1},
             {"table": "0x40004000", "index": 1, "addr": "0x40008100", "len": 16, "flags": ["next"], "next": 2},
             {"table": "0x40004000", "index": 2, "addr": "0x40008200", "len": 16, "flags": []}]
            """
        let report = try MemoryFixture(json: Self.layout(descriptors: descriptors, size: 2)).inspect()
        #expect(report.findings.map(\.rule.id) == ["SPLIT-CHAIN-MAX-LEN"])
        #expect(report.findings.first?.message.contains("3 descriptors, more than 2") == true)
    }

    @Test("rings outside the dump are reported, and nothing is walked")
    func unmappedRings() throws {
        let json = Self.layout(used: "null").replacingOccurrences(of: #""used": "0x40003000""#, with: #""used": "0x5000000""#)
        let report = try MemoryFixture(json: json).inspect()
        #expect(report.findings.map(\.rule.id) == ["SPLIT-SIZES"])
        #expect(report.queues.first?.chains.isEmpty == true && report.queues.first?.availIndex == nil)
    }
}
