import Testing
import TraceSources
import VirtioTestSupport

/// Decodes one line through the public reader, as a file of one line.
func decodeLine(_ line: String) throws -> TraceItem? {
    let file = TemporaryFile(text: line + "\n")
    defer { file.remove() }
    var reader = try TraceReader(path: file.path)
    return try reader.next()
}

func event(_ line: String) throws -> TraceEvent? {
    guard case .record(let record) = try decodeLine(line) else { return nil }
    return record.event
}

struct LineFormTests {
    @Test("TID@SEC.USEC: lines (QEMU ≤ 10.0 with -msg timestamp=on)")
    func threadTimestamp() throws {
        let item = try decodeLine("7814@1795683124.683576:virtqueue_pop vq 0x7f3010 elem 0x5622c0 in_num 2 out_num 1")
        guard case .record(let record) = item else { Issue.record("no record: \(String(describing: item))"); return }
        #expect(record.event == .pop(vq: 0x7f3010, elem: 0x5622c0, inNum: 2, outNum: 1))
        #expect(record.thread == 7814)
        #expect(record.timestamp?.nanoseconds == 1_795_683_124_683_576_000)
        #expect(record.line == 1)
    }

    @Test("name args lines without a timestamp")
    func plain() throws {
        let item = try decodeLine("virtio_set_status vdev 0x55bf777953d0 val 15")
        guard case .record(let record) = item else { Issue.record("no record"); return }
        #expect(record.event == .setStatus(vdev: 0x55bf_7779_53d0, value: 15))
        #expect(record.timestamp == nil && record.thread == nil)
    }

    @Test("ISO 8601 lines (QEMU 10.x), with and without the 10.1 thread id")
    func iso() throws {
        for line in [
            "2026-01-02T03:04:05.123456Z virtqueue_flush vq 0x10 count 3",
            "2026-01-02T03:04:05.123456Z (4242) virtqueue_flush vq 0x10 count 3",
        ] {
            guard case .record(let record) = try decodeLine(line) else { Issue.record("no record: \(line)"); continue }
            #expect(record.event == .flush(vq: 0x10, count: 3))
            // 2026-01-02T03:04:05Z is 1767323045 s after the epoch.
            #expect(record.timestamp?.nanoseconds == 1_767_323_045_123_456_000)
        }
    }

    @Test("error_report lines in ISO form are messages, not events")
    func isoErrorReport() throws {
        let line = "2026-11-26T08:52:12.421889Z qemu-system-x86_64: Desc next is 65535"
        #expect(try event(line) == .qemuMessage(.nextOutOfRange, text: line))
        let device = "2026-11-26T08:52:12.421889Z Device virtio-blk: indirect_desc was not negotiated!"
        #expect(try event(device) == .qemuMessage(.indirectNotNegotiated, text: device))
    }

    @Test("timestamps beyond what 64-bit nanoseconds hold are not a prefix, and do not trap", arguments: [
        "100@999999999999.123456:virtio_set_status vdev 0x1 val 0",
        "9999-12-31T23:59:59.999999Z virtio_set_status vdev 0x1 val 0",
        "100@99999999999999999999.1:virtio_set_status vdev 0x1 val 0",
    ])
    func hugeTimestamps(line: String) throws {
        let item = try decodeLine(line)
        #expect(item == nil)  // a non-event line, counted and skipped
    }

    @Test("leap-year and epoch arithmetic of ISO timestamps", arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)), ("2000-03-01T00:00:00Z", 951_868_800), ("2024-02-29T12:00:00.5Z", 1_709_208_000),
    ])
    func isoDates(stamp: String, seconds: Int64) throws {
        guard case .record(let record) = try decodeLine("\(stamp) virtio_mmio_read offset 0x0") else {
            Issue.record("no record")
            return
        }
        #expect((record.timestamp?.nanoseconds ?? -1) / 1_000_000_000 == seconds)
    }
}

struct EventDecodingTests {
    /// One line of every virtio event vqscope decodes, in QEMU 7.2's and 10.x's formats.
    static let cases: [(String, TraceEvent)] = [
        ("virtqueue_alloc_element elem 0x1 size 240 in_num 2 out_num 1", .allocElement(elem: 1, size: 240, inNum: 2, outNum: 1)),
        ("virtqueue_fill vq 0x2 elem 0x1 len 513 idx 0", .fill(vq: 2, elem: 1, length: 513, index: 0)),
        ("virtio_queue_notify vdev 0x3 n 63 vq 0x2", .queueNotify(vdev: 3, queue: 63, vq: 2)),
        ("virtio_notify vdev 0x3 vq 0x2", .notify(vdev: 3, vq: 2)),
        ("virtio_notify_irqfd vdev 0x3 vq 0x2", .notifyIrqfd(vdev: 3, vq: 2)),
        ("virtio_notify_irqfd_deferred_fn vdev 0x3 vq 0x2", .notifyIrqfd(vdev: 3, vq: 2)),
        ("virtio_mmio_read virtio_mmio_read offset 0x70", .mmioRead(offset: 0x70)),
        ("virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0xb", .mmioWrite(offset: 0x70, value: 0xb)),
        ("virtio_mmio_guest_page guest page size 0x1000 shift 12", .mmioGuestPage(size: 0x1000, shift: 12)),
        ("virtio_mmio_queue_write mmio_queue write 0x400 max 1024", .mmioQueueWrite(value: 0x400, maximum: 1024)),
        ("virtio_mmio_setting_irq virtio_mmio setting IRQ 1", .mmioSettingIRQ(level: 1)),
        ("virtio_pci_notify virtio_pci_notify vector 2", .pciNotify(vector: 2)),
        ("virtio_pci_notify_write 0x4 = 0x1 (2)", .pciNotifyWrite(address: 4, value: 1, size: 2, portIO: false)),
        ("virtio_pci_notify_write_pio 0x0 = 0x0 (2)", .pciNotifyWrite(address: 0, value: 0, size: 2, portIO: true)),
        ("virtio_blk_req_complete vdev 0x3 req 0x1 status 0", .blkRequestComplete(vdev: 3, request: 1, status: 0)),
        ("virtio_blk_rw_complete vdev 0x3 req 0x1 ret -5", .blkReadWriteComplete(vdev: 3, request: 1, result: -5)),
        ("virtio_blk_handle_read vdev 0x3 req 0x1 sector 2048 nsectors 8", .blkHandleRead(vdev: 3, request: 1, sector: 2048, sectors: 8)),
        ("virtio_blk_handle_write vdev 0x3 req 0x1 sector 2048 nsectors 1", .blkHandleWrite(vdev: 3, request: 1, sector: 2048, sectors: 1)),
        ("virtio_blk_submit_multireq vdev 0x3 mrb 0x9 start 0 num_reqs 2 offset 4096 size 8192 is_write 1",
         .blkSubmitMultiRequest(vdev: 3, start: 0, requests: 2, offset: 4096, size: 8192, isWrite: true)),
        ("virtio_blk_data_plane_start s 0x8", .blkDataPlane(started: true, dataPlane: 8)),
        ("virtio_blk_handle_zone_append vdev 0x3 req 0x1 sector 0x0", .blkOther(name: .handleZoneAppend, vdev: 3)),
        ("virtio_rng_request rng 0x3: 16 bytes requested, 4294967295 bytes quota left", .rng(.request, vdev: 3, bytes: 16)),
        ("virtio_rng_pushed rng 0x3: 64 bytes pushed", .rng(.pushed, vdev: 3, bytes: 64)),
        ("virtio_rng_guest_not_ready rng 0x3: guest not ready", .rng(.guestNotReady, vdev: 3, bytes: 0)),
        ("virtio_serial_send_control_event port 0, event 6, value 1", .serialSendControl(port: 0, event: 6, value: 1)),
        ("virtio_serial_handle_control_message event 3, value 1", .serialHandleControl(event: 3, value: 1)),
        ("virtio_console_flush_buf port 0, in_len 1, out_len 1", .serialOther(name: .consoleFlushBuffer, port: 0)),
        // The longest name vqscope knows (41 bytes): once past the lookup's length limit.
        ("virtio_serial_handle_control_message_port port 3", .serialOther(name: .handleControlMessagePort, port: 3)),
        ("virtio_serial_throttle_port port 0, throttle 1", .serialOther(name: .throttlePort, port: 0)),
        ("virtio_net_announce_timer 1", .netOther(name: "virtio_net_announce_timer")),
        ("virtio_input_queue_full ", .inputQueueFull),
        ("pci_cfg_write virtio-net-pci 00:01.0 @0x4 <- 0x103", .pciConfigWrite(device: "virtio-net-pci", offset: 4, value: 0x103)),
        ("memory_region_ops_write cpu 0 mr 0x5 addr 0x14 value 0xb size 1 name 'virtio-pci-common-virtio-net'",
         .memoryRegionWrite(region: "virtio-pci-common-virtio-net", address: 0x14, value: 0xb, size: 1)),
        ("memory_region_ops_read cpu 0 mr 0x5 addr 0xfebf4014 value 0x0 size 1 name 'virtio-pci-common-virtio-blk'",
         .memoryRegionRead(region: "virtio-pci-common-virtio-blk", address: 0xfebf4014, value: 0, size: 1)),
        ("virtio_set_status vdev (nil) val 0", .setStatus(vdev: 0, value: 0)),
    ]

    @Test("every decoded event", arguments: Self.cases)
    func decodes(line: String, expected: TraceEvent) throws {
        #expect(try event(line) == expected)
    }

    @Test("events of other subsystems are counted and skipped", arguments: [
        "pci_cfg_write mch 00:00.0 @0x90 <- 0x33333330", "kvm_run_exit cpu_index 0, reason 2",
        "memory_region_ops_write cpu 0 mr 0x5 addr 0x3f8 value 0x41 size 1 name 'serial'", "vhost_commit started 1 changed 0",
        "memory_region_ops_read cpu 0 mr 0x5 addr 0x3fd value 0x60 size 1 name 'serial'",
    ])
    func otherEvents(line: String) throws {
        let file = TemporaryFile(text: line + "\n")
        defer { file.remove() }
        var reader = try TraceReader(path: file.path)
        #expect(try reader.next() == nil)
        #expect(reader.statistics.otherEvents == 1 && reader.statistics.nonEventLines == 0)
    }

    @Test("malformed virtio event lines are problems with their line number", arguments: [
        "virtqueue_pop vq 0x1 elem", "virtio_set_status vdev 0x1 val 300", "virtqueue_fill vq 0x1 elem 0x2 len 99999999999 idx 0",
        "virtio_queue_notify vdev 0x11111111111111111 n 0 vq 0x1",
    ])
    func malformed(line: String) throws {
        guard case .problem(let problem) = try decodeLine(line) else { Issue.record("not a problem: \(line)"); return }
        #expect(problem.line == 1)
        guard case .malformed = problem.kind else { Issue.record("wrong kind \(problem.kind)"); return }
    }

    @Test("guest-error lines (no timestamp, `function: message`) become QEMU messages")
    func guestError() throws {
        let features = "virtio_mmio_write: attempt to write guest features with guest_features_sel > 0 in legacy mode"
        #expect(try event(features) == .qemuMessage(.mmioFeatureSelect, text: features))
        let legacy = "virtio_mmio_read: read from legacy register (0x28) in non-legacy mode"
        #expect(try event(legacy) == .qemuMessage(.mmioLegacyRegister, text: legacy))
    }
}
