import Foundation
import Testing
import TraceSources
import VirtioTestSupport

/// QEMU's `simple` backend binary traces: the same events as the log's, and every kind of
/// broken file a clear problem or error with its offset.
struct SimpleTraceTests {
    /// A simple trace, built here: little-endian integers as QEMU writes them on x86.
    struct Builder {
        var bytes: [UInt8] = []

        init(version: UInt64 = 4) {
            self.u64(.max)
            self.u64(0xf2b1_77cb_0aa4_29b4)
            self.u64(version)
        }

        mutating func u64(_ value: UInt64) { self.bytes += (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        mutating func u32(_ value: UInt32) { self.bytes += (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

        mutating func mapping(_ id: UInt64, _ name: String) {
            self.u64(0)
            self.u64(id)
            self.u32(UInt32(name.utf8.count))
            self.bytes += Array(name.utf8)
        }

        /// An event record; `length` overrides the record's length field. The string comes
        /// first (`pci_cfg_write`), or after the numbers with `stringLast` (`memory_region_ops_*`).
        mutating func event(
            _ id: UInt64, at time: UInt64, _ arguments: [UInt64], string: String? = nil, stringLast: Bool = false, length: UInt32? = nil
        ) {
            var payload: [UInt8] = []
            var text: [UInt8] = []
            if let string {
                let count = UInt32(string.utf8.count)
                text = (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * UInt32($0))) } + Array(string.utf8)
            }
            if !stringLast { payload += text }
            for argument in arguments { payload += (0..<8).map { UInt8(truncatingIfNeeded: argument >> (8 * $0)) } }
            if stringLast { payload += text }
            self.u64(1)
            self.u64(id)
            self.u64(time)
            self.u32(length ?? UInt32(24 + payload.count))
            self.u32(4242)
            self.bytes += payload
        }
    }

    static func read(_ builder: Builder) throws -> (items: [TraceItem], statistics: InputStatistics) {
        let file = TemporaryFile(bytes: builder.bytes)
        defer { file.remove() }
        return try readAll(file.path)
    }

    @Test("events decode as the log's would; mappings may come anywhere; other events are counted")
    func events() throws {
        var trace = Builder()
        trace.mapping(7, "virtqueue_pop")
        trace.event(7, at: 1_000, [0x7f00_0000_2000, 0x55d0_c000_3000, 1, 0])
        trace.mapping(3, "some_other_event")
        trace.event(3, at: 1_500, [1, 2])
        trace.mapping(9, "pci_cfg_write")
        trace.event(9, at: 2_000, [0, 3, 0, 0x14, 0x0f], string: "virtio-net-pci")
        trace.mapping(11, "virtio_set_status")
        trace.event(11, at: 3_000, [0x55d0_c000_1000, 0xFFFF_FFFF_FFFF_FFFF])  // a value past 8 bits
        let (items, statistics) = try Self.read(trace)
        #expect(statistics.format == .simple && statistics.virtioEvents == 2 && statistics.otherEvents == 1)
        #expect(items.first == .record(TraceRecord(
            event: .pop(vq: 0x7f00_0000_2000, elem: 0x55d0_c000_3000, inNum: 1, outNum: 0), line: 2,
            timestamp: Timestamp(nanoseconds: 1_000), thread: 4242)))
        guard case .record(let config)? = items.dropFirst().first else { Issue.record("no pci_cfg_write"); return }
        #expect(config.event == .pciConfigWrite(device: "virtio-net-pci", offset: 0x14, value: 0x0f) && config.line == 6)
        guard case .problem(let problem)? = items.last, case .malformed(let reason) = problem.kind else {
            Issue.record("no problem for the status value"); return
        }
        #expect(reason.contains("does not fit in 8 bits") && problem.line == 8)
    }

    @Test("memory_region_ops_read and _write records (five numbers, then the region's name) decode as the log's lines; other regions are other events")
    func memoryRegionAccesses() throws {
        var trace = Builder()
        trace.mapping(4, "memory_region_ops_read")
        trace.mapping(5, "memory_region_ops_write")
        trace.event(4, at: 1_000, [0, 0x5, 0xFEBF_4014, 0, 1], string: "virtio-pci-common-virtio-blk", stringLast: true)
        trace.event(5, at: 2_000, [0, 0x5, 0xFEBF_4014, 3, 1], string: "virtio-pci-common-virtio-blk", stringLast: true)
        trace.event(4, at: 3_000, [0, 0x6, 0x3FD, 0x60, 1], string: "serial", stringLast: true)
        let (items, statistics) = try Self.read(trace)
        #expect(statistics.virtioEvents == 2 && statistics.otherEvents == 1)
        let events = items.compactMap { item -> TraceEvent? in
            guard case .record(let record) = item else { return nil }
            return record.event
        }
        #expect(events == [
            .memoryRegionRead(region: "virtio-pci-common-virtio-blk", address: 0xFEBF_4014, value: 0, size: 1),
            .memoryRegionWrite(region: "virtio-pci-common-virtio-blk", address: 0xFEBF_4014, value: 3, size: 1),
        ])
    }

    @Test("event ids past the lookup table decode like small ones, numbers and strings alike")
    func largeEventIDs() throws {
        var trace = Builder()
        trace.mapping(70_000, "virtqueue_fill")
        trace.mapping(5_000, "pci_cfg_write")
        trace.event(70_000, at: 10, [0x7f00_0000_2000, 0x55d0_c000_3000, 513, 0])
        trace.event(5_000, at: 20, [0, 3, 0, 4, 0x103], string: "virtio-blk-pci")
        trace.event(70_000, at: 30, [0x7f00_0000_2000, 0x55d0_c000_3000, 1 << 40, 0])  // a length past 32 bits
        let (items, statistics) = try Self.read(trace)
        #expect(statistics.virtioEvents == 2)
        let events: [TraceEvent] = items.prefix(2).compactMap { if case .record(let record) = $0 { record.event } else { nil } }
        let expected: [TraceEvent] = [
            .fill(vq: 0x7f00_0000_2000, elem: 0x55d0_c000_3000, length: 513, index: 0),
            .pciConfigWrite(device: "virtio-blk-pci", offset: 4, value: 0x103),
        ]
        #expect(events == expected)
        guard case .problem(let problem)? = items.last, case .malformed(let reason) = problem.kind else {
            Issue.record("no problem for the length"); return
        }
        #expect(reason.hasPrefix("virtqueue_fill: ") && reason.contains("exceeds 32 bits") && problem.line == 5)
    }

    @Test("device names recur: each PCI config write keeps its own name, past the names remembered")
    func recurringNames() throws {
        var trace = Builder()
        trace.mapping(9, "pci_cfg_write")
        // Twelve names (more than are remembered), virtio and not, each written three times in turn.
        let names = (0..<12).map { $0 % 3 == 0 ? "ICH9-LPC-\($0)" : "virtio-blk-pci-\($0)" }
        for round in 0..<3 {
            for (index, name) in names.enumerated() {
                trace.event(9, at: UInt64(round * 100 + index), [0, 3, 0, 4, UInt64(index)], string: name)
            }
        }
        let (items, statistics) = try Self.read(trace)
        let expected = (0..<3).flatMap { _ in
            names.enumerated().filter { $0.element.hasPrefix("virtio") }.map {
                TraceEvent.pciConfigWrite(device: $0.element, offset: 4, value: UInt32($0.offset))
            }
        }
        #expect(items.compactMap { if case .record(let record) = $0 { record.event } else { nil } } == expected)
        #expect(statistics.virtioEvents == 24 && statistics.otherEvents == 12)
    }

    @Test("dropped events, an unmapped id, arguments that do not fit, a cut record: problems with offsets")
    func problems() throws {
        var trace = Builder()
        trace.mapping(1, "virtio_notify")
        trace.event(0xffff_ffff_ffff_fffe, at: 10, [37])
        trace.event(5, at: 20, [1, 2])  // no mapping
        trace.mapping(2, "pci_cfg_write")
        trace.bytes += []
        var bad = trace
        // A string that claims 2^32 - 1 bytes.
        bad.u64(1)
        bad.u64(2)
        bad.u64(30)
        bad.u32(24 + 8)
        bad.u32(1)
        bad.u32(.max)
        bad.u32(0)
        bad.event(1, at: 40, [1])  // one argument of two: only 8 bytes
        let start = bad.bytes.count
        bad.event(1, at: 50, [1, 2])
        bad.bytes.removeLast(5)  // cut inside the last record
        let (items, _) = try Self.read(bad)
        let kinds = items.compactMap { item -> String? in
            guard case .problem(let problem) = item else { return nil }
            switch problem.kind {
            case .dropped(let count): return "dropped \(count)"
            case .malformed(let reason): return reason
            case .unterminated: return "cut at \(problem.offset)"
            case .overlong: return "overlong"
            }
        }
        #expect(kinds.count == 5, "\(kinds)")
        #expect(kinds.first == "dropped 37")
        #expect(kinds.dropFirst().first == "event id 5 has no mapping record before it")
        #expect(kinds.dropFirst(2).first?.hasPrefix("pci_cfg_write: 8 argument bytes") == true)
        #expect(kinds.dropFirst(3).first == "virtio_notify: expected 2 numeric arguments, found 1")
        #expect(kinds.last == "cut at \(start)")
    }

    @Test("a header of another version, a record length below its header or absurdly long: errors with the offset")
    func errors() throws {
        var old = Builder(version: 3)
        old.mapping(1, "virtio_notify")
        #expect(throws: InputError.self) { _ = try Self.read(old) }
        do {
            _ = try Self.read(old)
        } catch {
            #expect("\(error)".contains("version 3") && "\(error)".contains("offset 16"))
        }
        for length: UInt32 in [23, 0x7fff_ffff] {
            var trace = Builder()
            trace.mapping(1, "virtio_notify")
            trace.event(1, at: 1, [1, 2], length: length)
            do {
                _ = try Self.read(trace)
                Issue.record("length \(length) accepted")
            } catch {
                #expect("\(error)".contains("claims \(length) bytes"))
            }
        }
        // Random bytes after a valid header: an error, not a trap.
        var random = Builder()
        var generator = SystemRandomNumberGenerator()
        random.bytes += (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        _ = try? Self.read(random)
    }
}

/// `--trace-events`: a build's declarations decide where each argument sits.
struct TraceEventsFileTests {
    @Test("declarations are read with their properties, strings and `void`; comments and other lines skipped")
    func parse() throws {
        let file = TemporaryFile(text: """
            # hw/virtio/trace-events
            virtqueue_pop(void *vq, void *elem, unsigned int in_num, unsigned int out_num) "vq %p elem %p in_num %u out_num %u"
            vcpu guest_cpu_reset(void) "" # a property first
            pci_cfg_write(const char *dev, uint32_t bus, uint32_t slot, uint32_t func, unsigned offs, unsigned val) "%s"
            not a declaration
            """, name: "trace-events")
        defer { file.remove() }
        let declared = try TraceEventsFile(path: file.path)
        #expect(declared.events["virtqueue_pop"]?.map(\.name) == ["vq", "elem", "in_num", "out_num"])
        #expect(declared.events["guest_cpu_reset"] == [])
        #expect(declared.events["pci_cfg_write"]?.map(\.isString) == [true, false, false, false, false, false])
        #expect(declared.events.count == 3)
        #expect(throws: InputError.self) { _ = try TraceEventsFile(path: "/nonexistent/trace-events") }
    }

    @Test("an event declared in another order, with an extra string, decodes by its declaration")
    func reordered() throws {
        var trace = SimpleTraceTests.Builder()
        trace.mapping(1, "virtqueue_pop")
        // Declared as (const char *tag, unsigned out_num, void *elem, unsigned in_num, void *vq).
        trace.u64(1)
        trace.u64(1)
        trace.u64(500)
        let tag = Array("x".utf8)
        trace.u32(UInt32(24 + 4 + tag.count + 32))
        trace.u32(7)
        trace.u32(UInt32(tag.count))
        trace.bytes += tag
        for value: UInt64 in [0, 0xE1E1, 1, 0x7F00] { trace.u64(value) }
        let file = TemporaryFile(bytes: trace.bytes)
        defer { file.remove() }
        let declarations = TraceEventsFile(declarations: [
            "virtqueue_pop": [
                .init(name: "tag", isString: true), .init(name: "out_num", isString: false),
                .init(name: "elem", isString: false), .init(name: "in_num", isString: false),
                .init(name: "vq", isString: false),
            ]
        ])
        var reader = try TraceReader(path: file.path, declarations: declarations)
        let item = try reader.next()
        #expect(item == .record(TraceRecord(
            event: .pop(vq: 0x7F00, elem: 0xE1E1, inNum: 1, outNum: 0), line: 2, timestamp: Timestamp(nanoseconds: 500), thread: 7)))
    }
}
