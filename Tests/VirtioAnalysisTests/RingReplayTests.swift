import Testing
import VirtioAnalysis
import VirtioModel

/// The replay of recorded ring transitions (`vqscope analyze RUN_DIR`).
struct RingReplayTests {
    static func replay(_ events: [RingEvent]) -> (queues: [RecordedQueueReport], rules: [String], lines: [Int?]) {
        var replay = RingReplay(file: "rings.jsonl")
        for (line, event) in events.enumerated() { replay.consume(event, line: line + 1) }
        let (queues, sink) = replay.finish()
        return (queues, sink.kept.map(\.rule.id), sink.kept.map(\.location.line))
    }

    static let device = "virtio-blk@/b"

    static func avail(_ head: UInt16, at time: Int64, writable: UInt64? = 513, defects: [ChainDefectFinding] = []) -> RingEvent {
        .avail(device: Self.device, queue: 0, time: time, head: head, writableBytes: writable, defects: defects)
    }

    static func used(_ id: UInt32, at time: Int64, length: UInt32 = 513) -> RingEvent {
        .used(device: Self.device, queue: 0, time: time, id: id, length: length)
    }

    @Test("a clean recording: offers matched to completions, latency measured, nothing raised")
    func clean() {
        let result = Self.replay([
            .queue(device: Self.device, type: .block, queue: 0, size: 8, packed: false),
            Self.avail(0, at: 1_000), Self.avail(1, at: 2_000), Self.used(1, at: 5_000), Self.used(0, at: 9_000),
            Self.avail(0, at: 10_000), Self.used(0, at: 12_000),
        ])
        #expect(result.rules.isEmpty)
        let queue = result.queues.first
        #expect(queue?.availEntries == 3 && queue?.usedEntries == 3 && queue?.availToUsed?.count == 3)
        #expect(queue?.availToUsed?.maximum ?? 0 >= 7_900 && queue?.availToUsed?.minimum ?? 0 <= 2_100)
    }

    @Test("over time: a head never offered, one returned twice, a length past the chain, a chain defect when offered")
    func violations() {
        let defect = ChainDefectFinding(rule: "SPLIT-CHAIN-RW-ORDER", message: "chain at head 2: element 1 is device-readable after a device-writable one")
        let result = Self.replay([
            .queue(device: Self.device, type: .block, queue: 0, size: 8, packed: false),
            Self.used(3, at: 1),  // never offered
            Self.avail(0, at: 2), Self.used(0, at: 3), Self.used(0, at: 4),  // returned twice
            Self.avail(1, at: 5), Self.used(1, at: 6, length: 600),  // 600 > 513
            Self.avail(2, at: 7, defects: [defect]),
            Self.used(9, at: 8),  // past the size
        ])
        #expect(result.rules == [
            "SPLIT-USED-ID-OWNED", "SPLIT-NO-DOUBLE-COMPLETE", "SPLIT-USED-LEN-BOUND", "SPLIT-CHAIN-RW-ORDER", "SPLIT-USED-ID-OWNED",
        ])
        #expect(result.lines == [2, 5, 7, 8, 9])
    }

    @Test("stale and late chains, missed entries and suspended rings are not judged")
    func uncertain() {
        let result = Self.replay([
            .queue(device: Self.device, type: .block, queue: 0, size: 8, packed: false),
            Self.avail(0, at: 1, writable: nil), Self.used(0, at: 2, length: 100_000),  // stale: length not judged
            .missed(device: Self.device, queue: 0, count: 3), Self.used(5, at: 3),  // may be a missed offer
            .reset(device: Self.device),
            .queue(device: Self.device, type: .block, queue: 0, size: 8, packed: false),
            .suspended(device: Self.device, queue: 0), Self.used(6, at: 4),
        ])
        #expect(result.rules.isEmpty)
        #expect(result.queues.map(\.missed) == [4, 0] && result.queues.last?.suspended == true)
    }

    @Test("a packed queue: Buffer IDs past the size are the driver's, an unknown one is PACKED-ID-LAST, lengths judged by list")
    func packed() {
        func used(_ id: UInt32, at time: Int64, length: UInt32, write: Bool) -> RingEvent {
            .used(device: Self.device, queue: 0, time: time, id: id, length: length, writeFlag: write)
        }
        let result = Self.replay([
            .queue(device: Self.device, type: .block, queue: 0, size: 8, packed: true),
            Self.avail(40, at: 1), used(40, at: 2, length: 513, write: true),  // an ID past the size: fine
            used(41, at: 3, length: 1, write: true),  // never offered
            Self.avail(2, at: 4), used(2, at: 5, length: 600, write: true),  // 600 > 513
            Self.avail(3, at: 6, writable: 0), used(3, at: 7, length: 9_999, write: false),  // reserved: not judged
            Self.avail(4, at: 8), used(4, at: 9, length: 17, write: false),  // bytes written, no WRITE
        ])
        #expect(result.rules == ["PACKED-ID-LAST", "PACKED-USED-LEN", "PACKED-USED-WRITE-FLAG"])
        #expect(result.lines == [4, 6, 10])
        #expect(result.queues.first?.usedEntries == 5 && result.queues.first?.availToUsed?.count == 4)
    }
}
