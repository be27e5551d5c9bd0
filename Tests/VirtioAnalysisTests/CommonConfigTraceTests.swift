import GuestMemory
import Testing
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// virtio-pci devices as the trace's `memory_region_ops_write` lines on their common
/// configuration structures show them (§4.1.4.3): which device wrote, the features it
/// accepted, the queues it enabled, and the recording's devices joined by those queues.
struct CommonConfigTraceTests {
    /// A write of `value` at `offset` of the structure of the BAR at `bar`, traced as QEMU
    /// traces it: the absolute address, and the region's name (the same for every device of a type).
    /// `size` is the field's width unless given.
    static func write(_ bar: UInt64, _ offset: UInt64, _ value: UInt64, type: String = "blk", size: Int? = nil) -> String {
        let size = size ?? (offset == 0x14 ? 1 : (offset >= 0x10 && offset < 0x20 ? 2 : 4))
        return "memory_region_ops_write cpu 0 mr 0x5 addr 0x\(String(bar + offset, radix: 16)) value 0x\(String(value, radix: 16)) "
            + "size \(size) name 'virtio-pci-common-virtio-\(type)'"
    }

    /// A driver's status write, and QEMU's `virtio_set_status` for `vdev` after it.
    static func status(_ bar: UInt64, _ vdev: String, _ value: UInt64, type: String = "blk") -> [String] {
        [Self.write(bar, 0x14, value, type: type), "virtio_set_status vdev \(vdev) val \(value)"]
    }

    /// Linux's probe of a modern device: reset, ACKNOWLEDGE|DRIVER, features `low` and
    /// VERSION_1, FEATURES_OK, queue 0 of `size` at `rings` (descriptors, then the driver and
    /// device areas 0x1000 and 0x2000 on), DRIVER_OK.
    static func probe(_ bar: UInt64, _ vdev: String, low: UInt64, rings: UInt64, size: UInt64? = 0x100, type: String = "blk") -> [String] {
        let features: [(UInt64, UInt64)] = [(0x08, 0), (0x0C, low), (0x08, 1), (0x0C, 1)]
        var queue: [(UInt64, UInt64)] = [(0x16, 0)]
        if let size { queue.append((0x18, size)) }
        queue += [(0x20, rings), (0x24, 0), (0x28, rings + 0x1000), (0x2C, 0), (0x30, rings + 0x2000), (0x34, 0), (0x1C, 1)]
        var lines = [0, 1, 3].flatMap { Self.status(bar, vdev, $0, type: type) }
        lines += features.map { Self.write(bar, $0.0, $0.1, type: type) }
        lines += Self.status(bar, vdev, 0xB, type: type)
        lines += queue.map { Self.write(bar, $0.0, $0.1, type: type) }
        return lines + Self.status(bar, vdev, 0xF, type: type)
    }

    static func queue(_ rings: UInt64, size: UInt16 = 0x100) -> ProgrammedQueue {
        ProgrammedQueue(
            index: 0, addresses: QueueAddresses(descriptorArea: rings, driverArea: rings + 0x1000, deviceArea: rings + 0x2000, size: size))
    }

    @Test("two devices of one type, one region name: each BAR's writes go to the device whose virtio_set_status followed its status write")
    func twoDevicesOfOneType() throws {
        let lines = Self.probe(0xFEBF_4000, "0xa", low: 0x44, rings: 0x10_0000) + Self.probe(0xFEBF_8000, "0xb", low: 0x6E54, rings: 0x20_0000)
        let report = try analyze(text: lines.joined(separator: "\n") + "\n")
        #expect(report.findings.isEmpty)
        let first = try #require(report.devices.first { $0.vdev == 0xa })
        let second = try #require(report.devices.first { $0.vdev == 0xb })
        #expect(first.transport == .pci && second.transport == .pci)
        #expect(first.type == .block && second.type == .block)
        #expect(first.driverFeatures == FeatureBits(rawValue: 1 << 32 | 0x44))
        #expect(second.driverFeatures == FeatureBits(rawValue: 1 << 32 | 0x6E54))
        #expect(first.programmedQueues == [Self.queue(0x10_0000)])
        #expect(second.programmedQueues == [Self.queue(0x20_0000)])
    }

    @Test("FEAT-VERSION_1-ACCEPT on virtio-pci: FEATURES_OK after driver_feature word 1 without bit 0 is the finding, at the status write; Linux's probe (word 1 = 1) is clean")
    func version1() throws {
        var lines = Self.probe(0xFEBF_4000, "0xa", low: 0x44, rings: 0x10_0000)
        #expect(try analyze(text: lines.joined(separator: "\n") + "\n").findings.isEmpty)
        // The second word written as 0: VIRTIO_F_VERSION_1 not accepted.
        let word1 = try #require(lines.firstIndex(of: Self.write(0xFEBF_4000, 0x0C, 1)))
        lines[word1] = Self.write(0xFEBF_4000, 0x0C, 0)
        let report = try analyze(text: lines.joined(separator: "\n") + "\n")
        #expect(report.findings.map(\.rule.id) == ["FEAT-VERSION_1-ACCEPT"])
        #expect(report.findings.first?.location.line == word1 + 3)  // the virtio_set_status of FEATURES_OK
        #expect(report.findings.first?.message.contains("virtio-pci") == true)
    }

    @Test("a queue enabled without queue_size, writes to a structure no status write has named, and a queue_reset leave no programmed queue; a reset keeps the last set-up")
    func unknownOrGone() throws {
        // SeaBIOS enables its queue without writing queue_size: the size is the device's default, not traced.
        let noSize = try analyze(text: Self.probe(0xFEBF_4000, "0xa", low: 0, rings: 0x10_0000, size: nil).joined(separator: "\n") + "\n")
        #expect(noSize.devices.first?.programmedQueues == [])
        #expect(noSize.devices.first?.driverFeatures == FeatureBits(rawValue: 1 << 32))
        // Queue writes at another BAR, whose structure no status write named: nobody's.
        let stray = Self.probe(0xFEBF_4000, "0xa", low: 0, rings: 0x10_0000)
            + [(0x16, 1), (0x18, 0x80), (0x20, 0x30_0000), (0x1C, 1)].map { Self.write(0xFEBF_C000, $0.0, $0.1) }
        #expect(try analyze(text: stray.joined(separator: "\n") + "\n").devices.first?.programmedQueues == [Self.queue(0x10_0000)])
        // A reset keeps what was last enabled; queue_reset (§4.1.4.3.1) forgets it.
        let reset = Self.probe(0xFEBF_4000, "0xa", low: 0, rings: 0x10_0000) + Self.status(0xFEBF_4000, "0xa", 0)
        #expect(try analyze(text: reset.joined(separator: "\n") + "\n").devices.first?.programmedQueues == [Self.queue(0x10_0000)])
        let queueReset = Self.probe(0xFEBF_4000, "0xa", low: 0, rings: 0x10_0000) + [Self.write(0xFEBF_4000, 0x3A, 1)]
        #expect(try analyze(text: queueReset.joined(separator: "\n") + "\n").devices.first?.programmedQueues == [])
    }

    @Test("a recording's two network devices are joined with the trace's two by the descriptor areas their drivers programmed, and their refilled copies judged; without the common configuration writes neither is")
    func recordingJoin() throws {
        let devices = [("0xa", 0xFEBF_4000 as UInt64, 0x10_0000 as UInt64, "0x7f000000a000"), ("0xb", 0xFEBF_8000, 0x20_0000, "0x7f000000b000")]
        var lines: [String] = []
        for (vdev, bar, rings, _) in devices { lines += Self.probe(bar, vdev, low: 0, rings: rings, type: "net") }
        for (vdev, _, _, vq) in devices {
            lines += [
                "virtio_queue_notify vdev \(vdev) n 0 vq \(vq)", "virtqueue_pop vq \(vq) elem 0x55d0c0008000 in_num 1 out_num 0",
                "virtqueue_fill vq \(vq) elem 0x55d0c0008000 len 74 idx 0", "virtqueue_flush vq \(vq) count 1",
            ]
        }
        let timed = lines.enumerated().map { traceLine($0.offset * 10, $0.element) }
        let recorded = ["virtio-net@/a": 0x10_0000 as UInt64, "virtio-net@/b": 0x20_0000].mapValues { area in
            var device = RecordedDevice(type: .network)
            device.add(area: area)
            return device
        }
        // Each frame copied 100 ms after the trace's start, with no take of its queue after its fill.
        let copies = recorded.keys.sorted().enumerated().map { number, label in
            RefilledCopy(
                device: label, type: .network, queue: 0, position: 0, length: 74, copied: RefilledRunFixture.base + 100_000_000, line: number + 1)
        }
        func whole(_ trace: [String]) throws -> Set<Int> {
            let file = TemporaryFile(text: trace.joined(separator: "\n") + "\n")
            defer { file.remove() }
            return try RefilledCopies.whole(copies, recorded: recorded, analysis: try analyze(file.path), trace: file.path)
        }
        #expect(try whole(timed) == [1, 2])
        #expect(try whole(timed.filter { !$0.contains("memory_region_ops_write") }).isEmpty)
    }

    @Test("INIT-NO-FEATURE-AFTER-FEATURES_OK on virtio-pci: a driver_feature write after FEATURES_OK that adds a bit, at its line; the same word again is clean")
    func featureAfterFeaturesOK() throws {
        let probe = Self.probe(0xFEBF_4000, "0xa", low: 0x44, rings: 0x10_0000)
        let featuresOK = try #require(probe.firstIndex(of: "virtio_set_status vdev 0xa val 11"))
        func after(_ writes: [(UInt64, UInt64)]) throws -> AnalysisReport {
            var lines = probe
            lines.insert(contentsOf: writes.map { Self.write(0xFEBF_4000, $0.0, $0.1) }, at: featuresOK + 1)
            return try analyze(text: lines.joined(separator: "\n") + "\n")
        }
        let added = try after([(0x08, 0), (0x0C, 0x45)])
        #expect(added.findings.map(\.rule.id) == ["INIT-NO-FEATURE-AFTER-FEATURES_OK"])
        #expect(added.findings.first?.location.line == featuresOK + 3)
        #expect(added.findings.first?.message.contains("driver_feature word 0 written as 0x45") == true)
        #expect(added.findings.first?.message.contains("accepts new bits 0x1") == true)
        #expect(try after([(0x08, 0), (0x0C, 0x44), (0x08, 1), (0x0C, 1)]).findings.isEmpty)
        // Before FEATURES_OK the driver may change its mind.
        var early = probe
        early.insert(Self.write(0xFEBF_4000, 0x0C, 0x5), at: featuresOK - 1)
        #expect(try analyze(text: early.joined(separator: "\n") + "\n").findings.isEmpty)
    }

    @Test("the common configuration rules judge each device by its own structure: queue 0 enabled on one disk does not lock queue 0 of the other; a wide status write covers config_generation, read-only")
    func rulesPerStructure() throws {
        var lines = Self.probe(0xFEBF_4000, "0xa", low: 0, rings: 0x10_0000)
        // The second disk's probe writes queue 0's areas while the first disk's queue 0 is enabled.
        lines += Self.probe(0xFEBF_8000, "0xb", low: 0, rings: 0x20_0000)
        #expect(try analyze(text: lines.joined(separator: "\n") + "\n").findings.isEmpty)
        // Then the first disk's queue 0 is moved: only that is late.
        lines.append(Self.write(0xFEBF_4000, 0x20, 0x30_0000))
        // A 4-byte write at device_status also writes config_generation and queue_select.
        lines.append(Self.write(0xFEBF_8000, 0x14, 0xF, size: 4))
        lines.append("virtio_set_status vdev 0xb val 15")
        let report = try analyze(text: lines.joined(separator: "\n") + "\n")
        #expect(report.findings.map(\.rule.id) == ["PCI-ENABLE-LAST", "PCI-RO-FIELDS"])
        #expect(report.findings.map(\.location.line) == [lines.count - 2, lines.count - 1])
        #expect(report.findings.first?.location.device?.hasSuffix("0xa") == true)
        #expect(report.findings.last?.message.contains("at offset 0x14 writes config_generation, read-only") == true)
    }

    @Test("QEMU's \"wrong value for queue_enable\" is PCI-ENABLE-LAST at its line without the write in the trace, and not again right after the write reported")
    func queueEnableMessage() throws {
        let message = "2026-01-02T03:04:05.000001Z qemu-system-x86_64: wrong value for queue_enable 0"
        let probe = Self.probe(0xFEBF_4000, "0xa", low: 0, rings: 0x10_0000)
        let alone = try analyze(text: (probe.filter { !$0.contains("memory_region_ops_write") } + [message]).joined(separator: "\n") + "\n")
        #expect(alone.findings.map(\.rule.id) == ["PCI-ENABLE-LAST"])
        #expect(alone.findings.first?.message.hasPrefix("QEMU reported:") == true)
        let both = try analyze(text: (probe + [Self.write(0xFEBF_4000, 0x1C, 0), message]).joined(separator: "\n") + "\n")
        #expect(both.findings.map(\.rule.id) == ["PCI-ENABLE-LAST"])
        #expect(both.findings.first?.location.line == probe.count + 1)
        #expect(both.findings.first?.message == "queue_enable written as 0 for queue 0 (a driver writes only 1 there)")
    }

    /// A read of `value` at `offset` of the structure, traced as QEMU traces it (`region`: the
    /// common configuration's, or another virtio-pci structure's).
    static func read(_ bar: UInt64, _ offset: UInt64, _ value: UInt64, region: String = "common", type: String = "blk") -> String {
        "memory_region_ops_read cpu 0 mr 0x5 addr 0x\(String(bar + offset, radix: 16)) value 0x\(String(value, radix: 16)) "
            + "size 1 name 'virtio-pci-\(region)-virtio-\(type)'"
    }

    /// Linux's probe with its reads (§4.1.4.3.2, §3.1.1): the reset, then `device_status` read
    /// until 0; FEATURES_OK, then `device_status` read back. `resetRead` and `featuresRead`
    /// replace those reads (nil: left out).
    static func probeWithReads(_ bar: UInt64, resetRead: String??, featuresRead: String??) -> [String] {
        let probe = Self.probe(bar, "0xa", low: 0x44, rings: 0x10_0000)
        // probe: 3 status pairs (0, 1, 3), 4 feature writes, the FEATURES_OK pair, the queue.
        var lines = Array(probe[0...1]) + [resetRead ?? Self.read(bar, 0x14, 0)].compactMap { $0 } + Array(probe[2...9])
        lines += Array(probe[10...11]) + [featuresRead ?? Self.read(bar, 0x14, 0xB)].compactMap { $0 }
        return lines + Array(probe[12...])
    }

    @Test("RESET-WAIT-ZERO and INIT-REREAD-FEATURES_OK on virtio-pci, with memory_region_ops_read in the trace: Linux's reads are clean; SeaBIOS's reset (an ISR read, no device_status read) and a read not yet 0 break the first, no read after FEATURES_OK the second")
    func resetAndFeaturesReads() throws {
        let bar: UInt64 = 0xFEBF_4000
        func rules(_ lines: [String]) throws -> [(String, Int)] {
            try analyze(text: lines.joined(separator: "\n") + "\n").findings.map { ($0.rule.id, $0.location.line ?? 0) }
        }
        #expect(try rules(Self.probeWithReads(bar, resetRead: nil, featuresRead: nil)).isEmpty)
        // SeaBIOS: the ISR read flushes the write; the status write after it (line 4) is the finding.
        let seaBIOS = try rules(Self.probeWithReads(bar, resetRead: .some(Self.read(bar, 0, 0, region: "isr")), featuresRead: nil))
        #expect(seaBIOS.map(\.0) == ["RESET-WAIT-ZERO"] && seaBIOS.map(\.1) == [4])
        let notYet = try rules(Self.probeWithReads(bar, resetRead: .some(Self.read(bar, 0x14, 0x3)), featuresRead: nil))
        #expect(notYet.map(\.0) == ["RESET-WAIT-ZERO"])
        // No read after FEATURES_OK (lines 12-13): queue_select, the next write, is the finding.
        let unread = try rules(Self.probeWithReads(bar, resetRead: nil, featuresRead: .some(nil)))
        #expect(unread.map(\.0) == ["INIT-REREAD-FEATURES_OK"] && unread.map(\.1) == [14])
        // A disk's data plane stops between the reset write and its virtio_set_status: the write still names the device.
        var dataPlane = Self.probeWithReads(bar, resetRead: .some(Self.read(bar, 0, 0, region: "isr")), featuresRead: nil)
        dataPlane.insert("virtio_blk_data_plane_stop dataplane 0x55d0c0009000", at: 1)
        let stopped = try rules(dataPlane)
        #expect(stopped.map(\.0) == ["RESET-WAIT-ZERO"] && stopped.map(\.1) == [5])
        // The read after FEATURES_OK shows it refused (0x3): queue_select, the next write, goes on regardless.
        let refused = try rules(Self.probeWithReads(bar, resetRead: nil, featuresRead: .some(Self.read(bar, 0x14, 0x3))))
        #expect(refused.map(\.0) == ["INIT-REREAD-FEATURES_OK"] && refused.map(\.1) == [15])
        // Without memory_region_ops_read no read can be seen: neither rule judges.
        #expect(try rules(Self.probe(bar, "0xa", low: 0x44, rings: 0x10_0000)).isEmpty)
    }

    @Test("FEAT-FEATURES_OK-REJECT judges only a refused set that is valid: a subset of an offer whose two words the driver read, with VERSION_1, its requirements met (a network device's GUEST_TSO4 needs GUEST_CSUM)")
    func refusalOfValidSets() throws {
        let bar: UInt64 = 0xFEBF_4000
        func rules(offer: (low: UInt64, high: UInt64?), accept: (low: UInt64, high: UInt64), type: String = "blk") throws -> [String] {
            var lines = [0, 1, 3].flatMap { Self.status(bar, "0xa", $0, type: type) }
            lines += [Self.write(bar, 0x00, 0, type: type), Self.read(bar, 0x04, offer.low, type: type)]
            if let high = offer.high { lines += [Self.write(bar, 0x00, 1, type: type), Self.read(bar, 0x04, high, type: type)] }
            lines += [Self.write(bar, 0x08, 0, type: type), Self.write(bar, 0x0C, accept.low, type: type)]
            lines += [Self.write(bar, 0x08, 1, type: type), Self.write(bar, 0x0C, accept.high, type: type)]
            lines += Self.status(bar, "0xa", 0xB, type: type) + [Self.read(bar, 0x14, 0x3, type: type)]
            return try analyze(text: lines.joined(separator: "\n") + "\n").findings.map(\.rule.id).filter { $0.hasPrefix("FEAT-") }
        }
        #expect(try rules(offer: (0x44, 1), accept: (0x44, 1)) == ["FEAT-FEATURES_OK-REJECT"])
        #expect(try rules(offer: (0x44, 1), accept: (0x00, 1)) == ["FEAT-FEATURES_OK-REJECT"])
        // Not offered (the driver's fault: FEAT-ACCEPT-SUBSET is judged on QMP's offer), no VERSION_1, word 1 unread.
        #expect(try rules(offer: (0x44, 1), accept: (0x45, 1)) == [])
        #expect(try rules(offer: (0x44, 1), accept: (0x44, 0)).filter { $0 == "FEAT-FEATURES_OK-REJECT" } == [])
        #expect(try rules(offer: (0x44, nil), accept: (0x44, 1)) == [])
        // A network device: GUEST_TSO4 (bit 7) with GUEST_CSUM (bit 1) is valid, without it not.
        #expect(try rules(offer: (0x82, 1), accept: (0x82, 1), type: "net") == ["FEAT-FEATURES_OK-REJECT"])
        #expect(try rules(offer: (0x82, 1), accept: (0x80, 1), type: "net") == [])
    }

    @Test("PCI-DEV-RESET-PRESENT0: queue_enable read as 1 before the driver enabled the queue is judged only after a reset the trace showed; read after the enable, 1 is right")
    func queueEnableAfterReset() throws {
        let bar: UInt64 = 0xFEBF_4000
        let enableRead = Self.read(bar, 0x1C, 1)
        func rules(_ lines: [String]) throws -> [String] {
            try analyze(text: lines.joined(separator: "\n") + "\n").findings.map(\.rule.id)
        }
        let probe = Self.probeWithReads(bar, resetRead: nil, featuresRead: nil)
        // Right after queue_select (index 14), before the queue's set-up: the device kept the bit.
        var early = probe
        early.insert(enableRead, at: 15)
        #expect(try rules(early) == ["PCI-DEV-RESET-PRESENT0"])
        // Right after queue_enable = 1 (index 22): the bit is the driver's.
        var late = probe
        late.insert(enableRead, at: 23)
        #expect(try rules(late).isEmpty)
        // No reset in the trace (it began mid-run): what the device presents is not judged.
        #expect(try rules(Array(probe[3...]) + [Self.write(bar, 0x16, 1), enableRead]).isEmpty)
    }

    @Test("CFG-FEATURE-GATED-ACCESS: a disk's blk_size read is judged against the offer the driver read from device_feature; without that read it is not judged")
    func gatedConfigRead() throws {
        let bar: UInt64 = 0xFEBF_4000
        // blk_size (offset 20, 4 bytes) exists with VIRTIO_BLK_F_BLK_SIZE (bit 6).
        let blockSize = "memory_region_ops_read cpu 0 mr 0x6 addr 0x\(String(bar + 0x2000 + 20, radix: 16)) value 0x200 size 4 "
            + "name 'virtio-pci-device-virtio-blk'"
        func rules(offer: UInt64?) throws -> [String] {
            var lines = Self.status(bar, "0xa", 0) + [Self.read(bar, 0x14, 0)] + Self.status(bar, "0xa", 1) + Self.status(bar, "0xa", 3)
            if let offer { lines += [Self.write(bar, 0x00, 0), Self.read(bar, 0x04, offer)] }
            return try analyze(text: (lines + [blockSize]).joined(separator: "\n") + "\n").findings.map(\.rule.id)
        }
        #expect(try rules(offer: 0x44) == [])  // SEG_MAX and BLK_SIZE offered
        #expect(try rules(offer: 0x04) == ["CFG-FEATURE-GATED-ACCESS"])
        #expect(try rules(offer: nil) == [])
    }
}
