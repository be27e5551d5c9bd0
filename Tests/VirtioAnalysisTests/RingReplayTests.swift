import GuestMemory
import Testing
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// The replay of recorded ring transitions (`vqscope analyze RUN_DIR`).
struct RingReplayTests {
    static func replay(_ events: [RingEvent]) -> (queues: [RecordedQueueReport], rules: [String], lines: [Int?]) {
        var replay = RingReplay(file: "rings.jsonl")
        for (line, event) in events.enumerated() { replay.consume(event, line: line + 1) }
        let (queues, sink, _) = replay.finish()
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
            .missed(device: Self.device, queue: 0, offers: 3, completions: 0), Self.used(5, at: 3),  // may be a missed offer
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

    /// A trace with one entropy device (0x55d0c0001000) and its notifications of queue 0 at
    /// the given seconds past 1700000000.
    static func entropyTrace(notifications: [String], interrupts: [String] = [], pops: [String] = []) -> String {
        (["100@1700000000.000010:virtio_rng_vm_state_change rng 0x55d0c0001000: state change to running 1 state 9"]
            + [0, 1, 3, 11, 15].map { "100@1700000000.000020:virtio_set_status vdev 0x55d0c0001000 val \($0)" }
            + notifications.map { "100@\($0):virtio_queue_notify vdev 0x55d0c0001000 n 0 vq 0x7f0000002000" }
            + interrupts.map { "100@\($0):virtio_notify vdev 0x55d0c0001000 vq 0x7f0000002000" }
            + pops.map { "100@\($0):virtqueue_pop vq 0x7f0000002000 elem 0x55d0c0003200 in_num 1 out_num 0" })
            .joined(separator: "\n") + "\n"
    }

    static func wait(
        _ device: String, index: UInt16, reached: UInt16? = nil, from: Int64, end: Int64, kind: AwaitedNotification.Kind = .available,
        flags: Bool = false
    ) -> RingEvent {
        var wait = AwaitedNotification(
            device: device, queue: 0, kind: kind, index: index, reached: reached ?? index &+ 1, from: from, seen: from + 1_000,
            last: end - 1_000, end: end)
        wait.flags = flags
        return .awaiting(wait)
    }

    /// The entropy device of ``entropyTrace(notifications:interrupts:)`` as a recording names
    /// it, its queue line, and times on the trace's clock (1700000000 s, seconds).
    static let rng = "virtio-rng@/r"
    static let rngQueue = RingEvent.queue(device: rng, type: .entropy, queue: 0, size: 8, packed: false)
    static let base: Int64 = 1_700_000_000_000_000_000
    static let second: Int64 = 1_000_000_000

    /// `events` replayed, and joined with the analysis of a trace of `text`, as `analyze RUN_DIR` does.
    static func joined(
        _ events: [RingEvent], trace text: String, endedNormally: Bool = true
    ) throws -> (report: AnalysisReport, waits: [AwaitedNotification]) {
        var replay = RingReplay(file: "rings.jsonl")
        for (line, event) in events.enumerated() { replay.consume(event, line: line + 1) }
        let (queues, sink, waits) = replay.finish()
        let trace = TemporaryFile(text: text)
        defer { trace.remove() }
        var report = try analyze(trace.path)
        try report.join(recording: "rings.jsonl", queues: queues, findings: sink, waits: waits, trace: trace.path, endedNormally: endedNormally)
        return (report, waits)
    }

    @Test("SPLIT-DRV/DEV-MUST-NOTIFY: each wait of a second and more judged against the notifications of its kind in its own window; shorter ones not")
    func awaitedNotifications() throws {
        let (base, second, rng) = (Self.base, Self.second, Self.rng)
        let events: [RingEvent] = [
            Self.rngQueue,
            // Notified at 1.5 s: inside.
            Self.wait(rng, index: 1, from: base + second, end: base + 3 * second),
            // Notified at 3 s only, 1 ms before the wait began: not for these entries.
            Self.wait(rng, index: 2, from: base + 3 * second + 1_000_000, end: base + 5 * second),
            // Not notified, but avail_event moved after half a second: not judged.
            Self.wait(rng, index: 3, from: base + 6 * second, end: base + 6 * second + second / 2),
            // Notified at 9 s, after the wait (recorded as over at 8.5 s): not in it.
            Self.wait(rng, index: 4, from: base + 7 * second, end: base + 8 * second + second / 2),
            // The driver's waits for interrupts: one at 1.5 s ends the first; the driver's
            // notification at 3 s is not an interrupt, so the second raises SPLIT-DEV-MUST-NOTIFY.
            Self.wait(rng, index: 1, from: base + second, end: base + 2 * second + second / 2, kind: .used),
            Self.wait(rng, index: 2, from: base + 2 * second + second / 2, end: base + 4 * second, kind: .used),
        ]
        let (report, waits) = try Self.joined(
            events,
            trace: Self.entropyTrace(
                notifications: ["1700000001.500000", "1700000003.000000", "1700000009.000000"], interrupts: ["1700000001.500000"]))
        #expect(waits.map(\.index) == [1, 2, 4, 1, 2] && report.recordedQueues.first?.awaitedNotifications == 5)
        #expect(report.findings.map(\.rule.id) == ["SPLIT-DRV-MUST-NOTIFY", "SPLIT-DRV-MUST-NOTIFY", "SPLIT-DEV-MUST-NOTIFY"])
        #expect(report.findings.map(\.location.line) == [3, 5, 7] && report.recordedQueues.first?.unjudgedWaits == 0)
    }

    @Test("SPLIT-DRV-MUST-NOTIFY without EVENT_IDX: a used.flags wait is over where the device takes an element within a second of the entries being seen, not later; event-index waits are not ended by a pop")
    func awaitedNotificationsUsedFlag() throws {
        let (base, second, rng) = (Self.base, Self.second, Self.rng)
        let events: [RingEvent] = [
            Self.rngQueue,
            // The device took an element 0.2 s after the entries were seen: it found them itself.
            Self.wait(rng, index: 1, from: base + second, end: base + 3 * second, flags: true),
            // Taken only 2 s after (a rate limiter's timer, say), never notified: judged.
            Self.wait(rng, index: 2, from: base + 4 * second, end: base + 7 * second, flags: true),
            // Notified at 8.5 s: served.
            Self.wait(rng, index: 3, from: base + 8 * second, end: base + 10 * second, flags: true),
            // With EVENT_IDX a pop inside the wait does not end it.
            Self.wait(rng, index: 4, from: base + 11 * second, end: base + 13 * second),
        ]
        let (report, waits) = try Self.joined(
            events,
            trace: Self.entropyTrace(
                notifications: ["1700000008.500000"], pops: ["1700000001.200000", "1700000006.000000", "1700000011.200000"]))
        #expect(waits.map(\.flags) == [true, true, true, false] && report.recordedQueues.first?.awaitedNotifications == 4)
        let notify = report.findings.filter { $0.rule.id == "SPLIT-DRV-MUST-NOTIFY" }
        #expect(notify.map(\.location.line) == [3, 5])
        #expect(
            notify.first?.message
                == "the driver made entries available (avail.idx 2 → 3) while used.flags asked for a notification (VIRTQ_USED_F_NO_NOTIFY clear, no EVENT_IDX), "
                + "and sent none: the trace shows no notification of the queue while the device waited (2999 ms and more after the entries were seen), "
                + "nor the device finding them itself within a second")
    }

    @Test("PACKED-DRV-NOTIFY-BARRIER / PACKED-DEV-NOTIFY: a packed queue's waits judged as a split queue's, under the packed rules, positions said as slot and wrap")
    func awaitedNotificationsPacked() throws {
        let (base, second, rng) = (Self.base, Self.second, Self.rng)
        let events: [RingEvent] = [
            .queue(device: rng, type: .entropy, queue: 0, size: 8, packed: true),
            // Notified at 1.5 s: inside.
            Self.wait(rng, index: 0x8001, from: base + second, end: base + 3 * second),
            // Neither notified nor interrupted between 4 s and 6 s.
            Self.wait(rng, index: 0x0007, reached: 0x8000, from: base + 4 * second, end: base + 6 * second),
            Self.wait(rng, index: 0x8002, from: base + 4 * second, end: base + 6 * second, kind: .used),
        ]
        let (report, waits) = try Self.joined(
            events, trace: Self.entropyTrace(notifications: ["1700000001.500000"], interrupts: ["1700000001.600000"]))
        #expect(waits.map(\.packed) == [true, true, true])
        #expect(report.findings.map(\.rule.id) == ["PACKED-DRV-NOTIFY-BARRIER", "PACKED-DEV-NOTIFY"])
        #expect(report.findings.map(\.location.line) == [3, 4])
        #expect(report.findings.first?.message.hasPrefix(
            "the driver made lists available (slot 7 wrap 0 → slot 0 wrap 1) while the device's event suppression (Device Area, DESC) asked for a notification at slot 7 wrap 0, and sent none") == true)
        #expect(report.findings.last?.message.hasPrefix("the device wrote used descriptors (slot 2 wrap 1 → slot 3 wrap 1)") == true)
    }

    @Test("SPLIT-DRV-MUST-NOTIFY: with two recorded devices of a type the trace's device cannot be told apart: counted, not judged")
    func awaitedNotificationsUnjoined() throws {
        let base = Self.base
        let events: [RingEvent] = [
            .queue(device: "virtio-rng@/r0", type: .entropy, queue: 0, size: 8, packed: false),
            .queue(device: "virtio-rng@/r1", type: .entropy, queue: 0, size: 8, packed: false),
            Self.wait("virtio-rng@/r0", index: 1, from: base, end: base + 2_000_000_000),
        ]
        let (report, _) = try Self.joined(events, trace: Self.entropyTrace(notifications: ["1700000000.500000"]))
        #expect(report.findings.isEmpty)
        #expect(report.recordedQueues.map(\.unjudgedWaits) == [1, 0] && report.recordedQueues.map(\.awaitedNotifications) == [1, 0])
    }

    /// Two entropy devices on virtio-mmio (version 2) whose drivers put queue 0's descriptor
    /// area at 0x1000 (vdev 0x55d0c0001000, vq …2000) and 0x5000 (vdev 0x55d0c0007000, vq
    /// …8000); each device's queue notified at the given seconds past 1700000000.
    static func twoMMIOEntropyTrace(first: [String], second: [String]) -> String {
        var lines: [String] = []
        var time = 10
        func line(_ event: String) {
            lines.append(traceLine(time, event))
            time += 10
        }
        for (vdev, desc) in [("0x55d0c0001000", 0x1000), ("0x55d0c0007000", 0x5000)] {
            func write(_ offset: Int, _ value: Int) {
                line("virtio_mmio_write_offset virtio_mmio_write offset 0x\(String(offset, radix: 16)) value 0x\(String(value, radix: 16))")
            }
            func status(_ value: Int) {
                write(0x70, value)
                line("virtio_set_status vdev \(vdev) val \(value)")
            }
            line("virtio_rng_vm_state_change rng \(vdev): state change to running 1 state 9")
            line("virtio_mmio_read virtio_mmio_read offset 0x0")
            status(0)
            status(1)
            status(3)
            write(0x24, 1)
            write(0x20, 1)  // VIRTIO_F_VERSION_1
            status(11)
            line("virtio_mmio_read virtio_mmio_read offset 0x70")  // FEATURES_OK read back
            for (offset, value) in [(0x30, 0), (0x38, 8), (0x80, desc), (0x84, 0), (0x90, desc + 0x1000), (0x94, 0), (0xa0, desc + 0x2000), (0xa4, 0), (0x44, 1)] {
                write(offset, value)
            }
            status(15)
        }
        let notified = first.map { "100@\($0):virtio_queue_notify vdev 0x55d0c0001000 n 0 vq 0x7f0000002000" }
            + second.map { "100@\($0):virtio_queue_notify vdev 0x55d0c0007000 n 0 vq 0x7f0000008000" }
        return (lines + notified).joined(separator: "\n") + "\n"
    }

    @Test("SPLIT-DRV-MUST-NOTIFY: two recorded entropy devices on virtio-mmio joined with the trace's by the descriptor area each driver programmed: each wait judged against its own device's notifications")
    func awaitedNotificationsJoinedByAddress() throws {
        let base = Self.base
        let queues = [("virtio-rng@/a", UInt64(0x1000)), ("virtio-rng@/b", UInt64(0x5000))]
        let events = queues.map { RingEvent.queue(device: $0.0, type: .entropy, queue: 0, size: 8, packed: false, descriptorArea: $0.1) }
            + queues.map { Self.wait($0.0, index: 1, from: base + 1_000_000_000, end: base + 3_000_000_000) }
        let text = Self.twoMMIOEntropyTrace(first: ["1700000001.500000"], second: ["1700000005.000000"])
        let analysis = try analyze(text: text)
        #expect(analysis.devices.map { $0.programmedQueues.map(\.addresses.descriptorArea) } == [[0x1000], [0x5000]])
        let (report, _) = try Self.joined(events, trace: text)
        // /a was notified at 1.5 s, /b only at 5 s: its wait (line 4) is the finding.
        #expect(report.findings.map(\.rule.id) == ["SPLIT-DRV-MUST-NOTIFY"] && report.findings.map(\.location.line) == [4])
        #expect(report.recordedQueues.map(\.unjudgedWaits) == [0, 0])
        #expect(report.recordedQueues.map(\.tracedDevice) == ["entropy@0x55d0c0001000", "entropy@0x55d0c0007000"])
        // Without the areas, two of a type on each side: neither joined.
        let unplaced = queues.map { RingEvent.queue(device: $0.0, type: .entropy, queue: 0, size: 8, packed: false) } + events.suffix(2)
        let (plain, _) = try Self.joined(unplaced, trace: text)
        #expect(plain.findings.isEmpty && plain.recordedQueues.map(\.unjudgedWaits) == [1, 1])
        #expect(plain.recordedQueues.map(\.tracedDevice) == [nil, nil])
    }

    @Test("SPLIT-DRV/DEV-MUST-NOTIFY: a notification where two waits meet ends both; waits the trace cannot show are counted, not judged")
    func awaitedNotificationsEdges() throws {
        let (base, second, rng) = (Self.base, Self.second, Self.rng)
        let events: [RingEvent] = [
            Self.rngQueue,
            // One wait recorded as over in the scan where the next begins; the driver notifies then.
            Self.wait(rng, index: 1, from: base + second, end: base + 3 * second),
            Self.wait(rng, index: 2, from: base + 3 * second - 100_000, end: base + 5 * second),
            // The driver's wait for an interrupt, on a queue the trace shows no interrupt of at all.
            Self.wait(rng, index: 1, from: base + second, end: base + 3 * second, kind: .used),
        ]
        let text = Self.entropyTrace(notifications: ["1700000002.999950"])
        let (report, _) = try Self.joined(events, trace: text)
        #expect(report.findings.isEmpty)
        #expect(report.recordedQueues.first?.awaitedNotifications == 3 && report.recordedQueues.first?.unjudgedWaits == 1)
        // Without timestamps nothing can be judged.
        let untimed = text.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 1).last.map(String.init) ?? "" }
        let (plain, _) = try Self.joined(events, trace: untimed.joined(separator: "\n") + "\n")
        #expect(plain.findings.isEmpty && plain.recordedQueues.first?.unjudgedWaits == 3)
    }

    /// An entropy device's trace in which the device takes and fills `count` requests on queue 0;
    /// `reset`: the last one is still in flight at a reset (status 0), which drains it;
    /// `message`: QEMU's message right after the last pop (a `virtio_error`).
    static func filledTrace(_ count: Int, reset: Bool = false, message: String? = nil) -> String {
        Self.entropyTrace(notifications: ["1700000000.000100"])
            + (0..<count).map { request in
                let elem = "elem 0x55d0c000\(4000 + request)"
                let last = request == count - 1
                let pop = "100@1700000000.\(200_000 + request):virtqueue_pop vq 0x7f0000002000 \(elem) in_num 1 out_num 0\n"
                return pop + (last ? message.map { $0 + "\n" } ?? "" : "")
                    + ((last && reset ? ["virtio_set_status vdev 0x55d0c0001000 val 0"] : [])
                        + ["virtqueue_fill vq 0x7f0000002000 \(elem) len 16 idx 0", "virtqueue_flush vq 0x7f0000002000 count 1"])
                    .map { "100@1700000000.\(200_000 + request):\($0)\n" }.joined()
            }.joined()
    }

    @Test("RECORD-TRACE-MISMATCH: used elements recorded, with those counted as missed and over every watch, against the trace's fills; queues whose counts cannot be held to them left out")
    func againstTraceFills() throws {
        let (base, rng) = (Self.base, Self.rng)
        func used(_ id: UInt32) -> RingEvent { .used(device: rng, queue: 0, time: base + Int64(id), id: id, length: 16) }
        func avail(_ head: UInt16) -> RingEvent {
            .avail(device: rng, queue: 0, time: base + Int64(head), head: head, writableBytes: 16, defects: [])
        }
        let lapped = RingEvent.missed(device: rng, queue: 0, offers: 0, completions: 1)
        // Three fills: two read and one counted as missed (the used ring lapped the recorder); all
        // three read over two watches; two read, the third drained by a reset the recorder left at.
        for (events, trace, recorded, missed) in [
            ([Self.rngQueue, avail(0), avail(1), used(0), lapped, used(2)], Self.filledTrace(3), 2, 1),
            ([Self.rngQueue, avail(0), used(0), .reset(device: rng), Self.rngQueue, avail(0), used(0), avail(1), used(1)], Self.filledTrace(3), 3, 0),
            ([Self.rngQueue, avail(0), used(0), avail(1), used(1), avail(2), .reset(device: rng)], Self.filledTrace(3, reset: true), 2, 0),
        ] {
            let (report, _) = try Self.joined(events, trace: trace)
            #expect(report.findings.map(\.rule.id) == [])
            #expect(report.recordingAgainstTrace == RecordingTraceAccount(queues: 1, usedEntries: recorded, missedCompletions: missed, fills: 3))
        }
        // An offer missed is not a completion: one short (also of the fills a reset did not drain).
        // One more used element than the trace's fills.
        for (events, trace, gap) in [
            ([Self.rngQueue, avail(0), used(0), .missed(device: rng, queue: 0, offers: 1, completions: 0), used(1)], Self.filledTrace(3),
             "1 completion(s) the recording neither shows nor counts as missed"),
            ([Self.rngQueue, avail(0), used(0)], Self.filledTrace(3, reset: true),
             "1 completion(s) the recording neither shows nor counts as missed"),
            ([Self.rngQueue, avail(0), used(0), avail(1), used(1), avail(2), used(2), avail(3), used(3)], Self.filledTrace(3),
             "1 more than the trace shows (events missing from the trace?)"),
        ] {
            let (report, _) = try Self.joined(events, trace: trace)
            #expect(report.findings.map(\.rule.id) == ["RECORD-TRACE-MISMATCH"])
            #expect(report.findings.first?.message.hasSuffix(gap) == true && report.findings.first?.location.line == 1)
            #expect(report.findings.first?.location.device == rng && report.recordingAgainstTrace.mismatched == 1)
        }
        // A recording that did not end normally: its shortfall is not reported, an excess is.
        let (early, _) = try Self.joined([Self.rngQueue, avail(0), used(0)], trace: Self.filledTrace(3), endedNormally: false)
        #expect(early.findings.isEmpty && early.recordingAgainstTrace == RecordingTraceAccount(notCompared: 1))
        let excess = [Self.rngQueue] + (0..<4).flatMap { [avail(UInt16($0)), used(UInt32($0))] }
        let (earlyExcess, _) = try Self.joined(excess, trace: Self.filledTrace(3), endedNormally: false)
        #expect(earlyExcess.findings.map(\.rule.id) == ["RECORD-TRACE-MISMATCH"])
        // Left out: a watch suspended, completions found before the watch began (counted by slot),
        // a device QEMU reported an error of (it traces fills it may not write).
        for (events, trace) in [
            ([Self.rngQueue, avail(0), used(0), .suspended(device: rng, queue: 0)], Self.filledTrace(3)),
            ([Self.rngQueue, .missed(device: rng, queue: 0, offers: 0, completions: 2, beforeAttach: true), avail(2), used(2)], Self.filledTrace(4)),
            ([Self.rngQueue, avail(0), used(0)], Self.filledTrace(3, message: "2026-01-01T00:00:00.000000Z qemu-system-x86_64: Desc next is 9")),
        ] {
            let (report, _) = try Self.joined(events, trace: trace)
            #expect(!report.findings.contains { $0.rule.id == "RECORD-TRACE-MISMATCH" })
            #expect(report.recordingAgainstTrace == RecordingTraceAccount(notCompared: 1))
        }
        // The recorder read a completion on queue 1, of which the trace shows nothing (a vhost
        // queue): left out; queue 2, which neither shows used: compared, none against none; the
        // trace fills queue 0, which the recorder never watched: compared as none recorded.
        let vhost: [RingEvent] = [
            .queue(device: rng, type: .entropy, queue: 1, size: 8, packed: false),
            .avail(device: rng, queue: 1, time: base, head: 0, writableBytes: 16, defects: []),
            .used(device: rng, queue: 1, time: base + 1, id: 0, length: 16),
            .queue(device: rng, type: .entropy, queue: 2, size: 8, packed: false),
        ]
        let (unwatched, _) = try Self.joined(vhost, trace: Self.filledTrace(2))
        #expect(unwatched.findings.map(\.message) == [
            "the recording never watched queue 0, but the trace shows 2 fill(s) on entropy@0x55d0c0001000 queue 0: "
                + "2 completion(s) the recording neither shows nor counts as missed"
        ])
        #expect(unwatched.findings.first?.location.line == nil)
        #expect(unwatched.recordingAgainstTrace == RecordingTraceAccount(queues: 2, mismatched: 1, fills: 2, notCompared: 1))
        // A recorded device of another type is joined with nothing: not counted at all.
        let block = RingEvent.queue(device: "virtio-blk@/b", type: .block, queue: 0, size: 8, packed: false)
        let (unjoined, _) = try Self.joined([block], trace: Self.filledTrace(2))
        #expect(unjoined.findings.isEmpty && unjoined.recordingAgainstTrace == RecordingTraceAccount())
    }

    @Test("missed completions: made before the watch began they leave the offers owned (an over-long length still judged); lost in a lap they do not")
    func missedCompletionsAndOffers() {
        func events(beforeAttach: Bool) -> [RingEvent] {
            [
                .queue(device: Self.device, type: .block, queue: 0, size: 8, packed: false), Self.avail(0, at: 1),
                .missed(device: Self.device, queue: 0, offers: 0, completions: 1, beforeAttach: beforeAttach), Self.used(0, at: 2, length: 600),
            ]
        }
        let before = Self.replay(events(beforeAttach: true))
        #expect(before.rules == ["SPLIT-USED-LEN-BOUND"] && before.queues.map(\.completionsBeforeWatch) == [1])
        let lapped = Self.replay(events(beforeAttach: false))
        #expect(lapped.rules.isEmpty && lapped.queues.map(\.missedCompletions) == [1] && lapped.queues.map(\.missed) == [1])
    }
}
