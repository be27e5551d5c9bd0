import Testing
import TraceSources
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// The driver/device model on short inline traces: attribution, origins, request lifecycle.
struct ModelTests {
    @Test("mmio writes of two devices probed one after the other go to the right device")
    func mmioAttribution() throws {
        let report = try analyze(text: """
            virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x0
            virtio_set_status vdev 0xa val 0
            virtio_mmio_write_offset virtio_mmio_write offset 0x30 value 0x0
            virtio_mmio_write_offset virtio_mmio_write offset 0x38 value 0x80
            virtio_mmio_queue_write mmio_queue write 0x80 max 1024
            virtio_mmio_write_offset virtio_mmio_write offset 0x44 value 0x1
            virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x1
            virtio_set_status vdev 0xa val 1
            virtio_mmio_write_offset virtio_mmio_write offset 0x28 value 0x1000
            virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x0
            virtio_set_status vdev 0xb val 0
            virtio_set_status vdev 0xb val 0

            """)
        let first = try #require(report.devices.first { $0.vdev == 0xa })
        let second = try #require(report.devices.first { $0.vdev == 0xb })
        #expect(first.transport == .mmio && first.mmioVersion == .modern)
        #expect(second.transport == .mmio && second.mmioVersion == .legacy)
        // The second set_status(0) is QEMU's repeat inside the reset: no finding, both recorded.
        #expect(second.statusHistory == [0, 0])
        #expect(report.findings.isEmpty)
    }

    @Test("a status change without a Status register write on virtio-mmio is QEMU's, not the driver's")
    func mmioQEMUStatus() throws {
        // Each write as Linux makes it: Status read, then written (the read after FEATURES_OK
        // is INIT-REREAD-FEATURES_OK's).
        let writes = [1, 3, 11, 15].map {
            "virtio_mmio_read virtio_mmio_read offset 0x70\n"
                + "virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x\(String($0, radix: 16))\n"
                + "virtio_set_status vdev 0xa val \($0)\n"
        }
        let report = try analyze(text: writes.joined() + "virtio_set_status vdev 0xa val 11\n")
        #expect(report.findings.isEmpty)
        #expect(report.devices.first?.statusHistory == [1, 3, 11, 15, 11])
        let unanchored = try analyze(text: writes.joined() + "virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0xb\n"
            + "virtio_set_status vdev 0xa val 11\n")
        #expect(unanchored.findings.map(\.rule.id) == ["STATUS-NO-CLEAR"])
    }

    @Test("clearing DRIVER_OK right after a bus-master-off config write is QEMU's doing")
    func busMasterOff() throws {
        let statuses = "virtio_set_status vdev 0xa val 1\nvirtio_set_status vdev 0xa val 3\n"
            + "virtio_set_status vdev 0xa val 11\nvirtio_set_status vdev 0xa val 15\n"
        let byQEMU = try analyze(text: statuses + "pci_cfg_write virtio-blk-pci 00:02.0 @0x4 <- 0x103\nvirtio_set_status vdev 0xa val 11\n")
        #expect(byQEMU.findings.isEmpty)
        #expect(byQEMU.devices.first?.type == .block)
        let byDriver = try analyze(text: statuses + "virtio_set_status vdev 0xa val 11\n")
        #expect(byDriver.findings.map(\.rule.id) == ["STATUS-NO-CLEAR"])
    }

    @Test("a device_status write traced on a virtio-pci common configuration region (absolute address, as QEMU traces it) makes the status write the driver's, on PCI, and names the device's type")
    func commonConfigStatusWrite() throws {
        let report = try analyze(text: [0, 1, 3].map {
            "memory_region_ops_write cpu 0 mr 0x5 addr 0xfebf0014 value 0x\($0) size 1 name 'virtio-pci-common-virtio-net'\n"
                + "virtio_set_status vdev 0xa val \($0)\n"
        }.joined())
        let device = try #require(report.devices.first)
        #expect(device.type == .network && device.transport == .pci)
        // At another offset of the structure (queue_select, 0x16), the status write is not attributed.
        let other = try analyze(text: "memory_region_ops_write cpu 0 mr 0x5 addr 0xfebf0016 value 0x0 size 2 name 'virtio-pci-common-virtio-net'\n"
            + "virtio_set_status vdev 0xa val 0\n")
        #expect(other.devices.first?.type == nil)
    }

    @Test("NEEDS_RESET is the device's; a driver that then resets is clean")
    func needsReset() throws {
        let report = try analyze(text: """
            virtio_set_status vdev 0xa val 1
            virtio_set_status vdev 0xa val 3
            virtio_set_status vdev 0xa val 11
            virtio_set_status vdev 0xa val 15
            virtio_set_status vdev 0xa val 79
            virtio_set_status vdev 0xa val 0
            virtio_set_status vdev 0xa val 1

            """)
        #expect(report.findings.map(\.rule.id) == ["STATUS-DEVICE-NEEDS-RESET"])
        #expect(report.findings.first?.location.line == 5)
    }

    @Test("element pointers are reused after completion without findings; counts are per queue")
    func pointerReuse() throws {
        var lines = ["virtio_set_status vdev 0xa val 1", "virtio_set_status vdev 0xa val 3",
                     "virtio_set_status vdev 0xa val 11", "virtio_set_status vdev 0xa val 15"]
        for round in 0..<50 {
            lines.append("virtio_queue_notify vdev 0xa n \(round % 2) vq 0x\(round % 2 + 1)0")
            lines.append("virtqueue_pop vq 0x\(round % 2 + 1)0 elem 0x99 in_num 1 out_num 0")
            lines.append("virtqueue_fill vq 0x\(round % 2 + 1)0 elem 0x99 len 8 idx 0")
            lines.append("virtqueue_flush vq 0x\(round % 2 + 1)0 count 1")
        }
        let report = try analyze(text: lines.joined(separator: "\n") + "\n")
        #expect(report.findings.isEmpty)
        let queues = try #require(report.devices.first?.queues)
        #expect(queues.map(\.pops) == [25, 25])
        #expect(queues.map(\.bytesUsed) == [200, 200])
        #expect(queues.allSatisfy { $0.inFlightAtEnd == 0 && $0.maxInFlight == 1 })
    }

    @Test("twenty requests in flight at once (past the in-place ones) complete in any order; a reset drains them")
    func manyInFlight() throws {
        var lines = ["virtio_set_status vdev 0xa val 1", "virtio_set_status vdev 0xa val 3",
                     "virtio_set_status vdev 0xa val 11", "virtio_set_status vdev 0xa val 15",
                     "virtio_queue_notify vdev 0xa n 0 vq 0x10"]
        for elem in 1...20 { lines.append("virtqueue_pop vq 0x10 elem 0x\(String(elem, radix: 16)) in_num 1 out_num 0") }
        // Completed out of order: every third, then the rest from the newest down, leaving 0x1 and 0x2.
        let order = Array(stride(from: 3, through: 20, by: 3)) + (3...20).reversed().filter { $0 % 3 != 0 }
        for elem in order { lines.append("virtqueue_fill vq 0x10 elem 0x\(String(elem, radix: 16)) len 4 idx 0") }
        lines.append("virtqueue_fill vq 0x10 elem 0x9 len 4 idx 0")  // the second time: not popped again
        lines.append("virtqueue_flush vq 0x10 count 18")
        lines.append("virtio_set_status vdev 0xa val 0")  // 0x1 and 0x2 are drained by the reset
        lines.append("virtqueue_fill vq 0x10 elem 0x1 len 0 idx 0")
        lines.append("virtio_set_status vdev 0xa val 1")  // the driver starts over: 0x2 is gone
        let report = try analyze(text: lines.joined(separator: "\n") + "\n")
        #expect(report.findings.map(\.rule.id) == ["SPLIT-NO-DOUBLE-COMPLETE"])
        let queue = try #require(report.devices.first?.queues.first)
        #expect(queue.maxInFlight == 20 && queue.fills == 20 && queue.inFlightAtEnd == 0)
    }

    @Test("forty queues of two devices named in turn, at indices past the common ones: counted per queue, dropped by their device's reset")
    func manyQueuesInTurn() throws {
        var lines: [String] = []
        for vdev in ["0xa", "0xb"] { lines += [1, 3, 11, 15].map { "virtio_set_status vdev \(vdev) val \($0)" } }
        // Queue k of device 0xa at index 300 + k (k even) or 2147483000 + k, of 0xb at index k;
        // pointers 0x90 apart, as QEMU's VirtQueue array lays them out.
        let queues = (0..<40).map { k in
            (vdev: k < 20 ? "0xa" : "0xb", index: k < 20 ? (k % 2 == 0 ? 300 + k : 2_147_483_000 + k) : k,
             vq: "0x" + String(0x7f00_0000_2000 + 0x90 * k, radix: 16))
        }
        for round in 0..<3 {
            for queue in queues {
                lines.append("virtio_queue_notify vdev \(queue.vdev) n \(queue.index) vq \(queue.vq)")
                lines.append("virtqueue_pop vq \(queue.vq) elem 0x\(String(0x1000 * (round + 1), radix: 16)) in_num 1 out_num 0")
            }
            // Completed in turn, but for the last round.
            if round < 2 {
                for queue in queues.reversed() {
                    lines.append("virtqueue_fill vq \(queue.vq) elem 0x\(String(0x1000 * (round + 1), radix: 16)) len 4 idx 0")
                    lines.append("virtqueue_flush vq \(queue.vq) count 1")
                }
            }
        }
        // Device 0xa is reset and its driver starts over: its twenty queues' last requests are
        // dropped with the reset; 0xb's stay in flight.
        lines.append("virtio_set_status vdev 0xa val 0")
        lines.append("virtio_set_status vdev 0xa val 1")
        let report = try analyze(text: lines.joined(separator: "\n") + "\n")
        let reported = report.devices.flatMap { device in device.queues.map { (device: device.vdev, queue: $0) } }
        #expect(reported.count == 40)
        for (vdev, index, vq) in queues {
            let queue = try #require(reported.first { "0x" + String($0.queue.vq, radix: 16) == vq })
            #expect("0x" + String(queue.device, radix: 16) == vdev && queue.queue.index == index)
            #expect(queue.queue.pops == 3 && queue.queue.fills == 2 && queue.queue.kicks == 3)
            #expect(queue.queue.inFlightAtEnd == (vdev == "0xa" ? 0 : 1))
        }
        #expect(report.findings.filter { $0.rule.id == "QUEUE-INFLIGHT-AT-END" }.count == 20)
    }

    @Test("10,000 virtio-mmio writes no Status write claims: held up to the limit, counted, the first one named")
    func unclaimedRegisterWrites() throws {
        // QueueSel writes with no device to attribute them to (no Status write follows).
        let lines = (0..<10_000).map { "virtio_mmio_write_offset virtio_mmio_write offset 0x30 value 0x\(String($0 % 7, radix: 16))" }
        var options = AnalysisOptions()
        options.maximumPendingRegisterWrites = 64
        let report = try analyze(text: lines.joined(separator: "\n") + "\n", options: options)
        let finding = try #require(report.findings.first { $0.rule.id == "MMIO-UNATTRIBUTED-WRITES" })
        #expect(finding.location.line == 1)
        #expect(finding.message.hasPrefix("10000 virtio-mmio register write(s)"))
    }

    @Test("BLK-STATUS-VALUE: a zone status (3–6) is accepted when the features are not known; 7 never")
    func blockStatusValues() throws {
        let clean = try #require(Fixtures.text("traces/rules/BLK-STATUS-VALUE/clean.handwritten.log"))
        for (status, raised) in [(4, 0), (6, 0), (7, 1), (-1, 1)] {
            let text = clean.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.hasSuffix("req 0x55d0c0013100 status 0") ? $0.dropLast() + "\(status)" : $0
            }.joined(separator: "\n")
            let report = try analyze(text: text)
            #expect(report.findings.filter { $0.rule.id == "BLK-STATUS-VALUE" }.count == raised, "status \(status)")
        }
    }

    @Test("a flush publishing a batch measures fill→flush for each element, oldest first")
    func batchedFlush() throws {
        let report = try analyze(text: """
            1@1.000000:virtio_queue_notify vdev 0xa n 0 vq 0x10
            1@1.000010:virtqueue_pop vq 0x10 elem 0x1 in_num 1 out_num 0
            1@1.000020:virtqueue_pop vq 0x10 elem 0x2 in_num 1 out_num 0
            1@1.000100:virtqueue_fill vq 0x10 elem 0x1 len 4 idx 0
            1@1.000200:virtqueue_fill vq 0x10 elem 0x2 len 4 idx 1
            1@1.000300:virtqueue_flush vq 0x10 count 2
            1@1.000310:virtio_notify vdev 0xa vq 0x10

            """)
        let queue = try #require(report.devices.first?.queues.first)
        let stages = Dictionary(uniqueKeysWithValues: queue.latencies.map { ($0.stage, $0) })
        #expect(stages["kick→pop"]?.count == 1 && stages["kick→pop"]?.maximum == 10_000)
        #expect(stages["pop→fill"]?.count == 2 && stages["pop→fill"]?.maximum == 180_000)
        #expect(stages["fill→flush"]?.minimum == 100_000 && stages["fill→flush"]?.maximum == 200_000)
        #expect(stages["flush→interrupt"]?.maximum == 10_000)
        #expect(queue.maxInFlight == 2 && queue.flushedElements == 2)
    }


    @Test("an element popped just before QEMU reports a malformed request is detached, not left in flight")
    func detachedOnError() throws {
        let report = try analyze(text: """
            virtio_blk_handle_read vdev 0xa req 0x0 sector 0 nsectors 0
            virtio_queue_notify vdev 0xa n 0 vq 0x10
            virtqueue_pop vq 0x10 elem 0x1 in_num 1 out_num 0
            2026-01-01T00:00:00.000000Z qemu-system-x86_64: virtio-blk missing headers
            virtqueue_pop vq 0x10 elem 0x2 in_num 1 out_num 1

            """)
        #expect(report.findings.map(\.rule.id).sorted() == ["BLK-FRAME", "BLK-FRAME", "QUEUE-INFLIGHT-AT-END"])
        let queue = try #require(report.devices.first?.queues.first)
        #expect(queue.inFlightAtEnd == 1)
        // QEMU's message is about the element popped: found at its line, with its device and queue.
        let reported = try #require(report.findings.first { $0.message.hasPrefix("QEMU reported:") })
        #expect(reported.location.line == 4 && reported.location.device == "block@0xa" && reported.location.queue == 0)
    }

    @Test("QEMU's refusal of a legacy register write keeps a modern device modern")
    func refusedLegacyWrite() throws {
        let status = { (value: Int) in
            "virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x\(String(value, radix: 16))\n"
                + "virtio_set_status vdev 0xa val \(value)\n"
        }
        let text = status(0) + status(1) + status(3)
            + "virtio_mmio_write_offset virtio_mmio_write offset 0x28 value 0x1000\n"
            + "virtio_mmio_write: write to legacy register (0x28) in non-legacy mode\n" + status(7)
        let report = try analyze(text: text)
        #expect(report.devices.first?.mmioVersion == .modern)
        #expect(report.findings.map(\.rule.id).sorted() == ["INIT-SEQUENCE", "MMIO-LEGACY-REGS"])
    }

    @Test("net control queue: queue 2 with one pair, the highest even queue with several")
    func netControlQueue() throws {
        func trace(pairs: Int) -> String {
            var lines = ["pci_cfg_write virtio-net-pci 00:01.0 @0x4 <- 0x103", "virtio_set_status vdev 0xa val 0"]
            lines += [1, 3, 11, 15].map { "virtio_set_status vdev 0xa val \($0)" }
            for index in 0...(2 * pairs) {
                let (inNum, outNum) = index == 2 * pairs ? (1, 1) : (index % 2 == 0 ? (1, 0) : (0, 1))
                lines.append("virtio_queue_notify vdev 0xa n \(index) vq 0x\(index + 16)")
                lines.append("virtqueue_pop vq 0x\(index + 16) elem 0x9 in_num \(inNum) out_num \(outNum)")
                lines.append("virtqueue_fill vq 0x\(index + 16) elem 0x9 len \(index % 2 == 1 ? 0 : 1) idx 0")
            }
            return lines.joined(separator: "\n") + "\n"
        }
        for pairs in [1, 4] {
            let report = try analyze(text: trace(pairs: pairs))
            let roles = try #require(report.devices.first?.queues.map(\.role))
            #expect(roles.last == .control, "\(pairs) pairs")
            #expect(roles.dropLast().enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? .receive : .transmit) })
            #expect(report.findings.isEmpty, "\(report.findings.map(\.message))")
        }
    }

    @Test("timestamps centuries apart saturate intervals instead of trapping")
    func extremeIntervals() throws {
        let report = try analyze(text: """
            1700-01-01T00:00:00.000000Z virtio_queue_notify vdev 0xa n 0 vq 0x10
            1700-01-01T00:00:00.000000Z virtqueue_pop vq 0x10 elem 0x1 in_num 1 out_num 0
            2262-04-11T23:47:16.000000Z virtqueue_fill vq 0x10 elem 0x1 len 4 idx 0
            1700-01-01T00:00:00.000000Z virtqueue_flush vq 0x10 count 1

            """)
        let queue = try #require(report.devices.first?.queues.first)
        let popToFill = try #require(queue.latencies.first { $0.stage == "pop→fill" })
        #expect(popToFill.maximum == .max)
        #expect(queue.negativeIntervals == 1)
        #expect(report.input.virtioEvents == 4)
    }

    @Test("MMIO-NOTIFY-QUEUE: a QueueNotify write is matched with the next event of its own thread; drops before any virtio_queue_notify are held, and dropped with the trace when it has none")
    func droppedNotifications() throws {
        let write = { (thread: Int, value: String) in "\(thread)@1700000000.000010:virtio_mmio_write_offset virtio_mmio_write offset 0x50 value \(value)" }
        let taken = { (thread: Int) in "\(thread)@1700000000.000020:virtio_queue_notify vdev 0xa n 0 vq 0x10" }
        let other = { (thread: Int) in "\(thread)@1700000000.000030:virtio_set_status vdev 0xb val 0" }
        func rules(_ lines: [String]) throws -> [Int?] {
            try analyze(text: lines.joined(separator: "\n") + "\n").findings.filter { $0.rule.id == "MMIO-NOTIFY-QUEUE" }.map(\.location.line)
        }
        // Another thread's event between the write and its virtio_queue_notify: taken, not dropped.
        #expect(try rules([write(1, "0x0"), other(2), taken(1)]) == [])
        // The writing thread's next event is not the notify: dropped.
        #expect(try rules([taken(1), write(1, "0x3"), other(1)]) == [2])
        // A drop before the first virtio_queue_notify is reported once the trace shows one …
        #expect(try rules([write(1, "0x3"), other(1), write(1, "0x0"), taken(1)]) == [1])
        // … and not at all in a trace without the event (only virtio_mmio_* enabled).
        #expect(try rules([write(1, "0x0"), other(1), write(1, "0x0"), other(1)]) == [])
        // A device that set DEVICE_NEEDS_RESET itself drops notifications: not judged after it.
        #expect(try rules([taken(1), "1@1700000000.000040:virtio_set_status vdev 0xa val 64", write(1, "0x0"), other(1)]) == [])
    }
}
