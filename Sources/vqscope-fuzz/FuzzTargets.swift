import GuestMemory
import LiveCapture
import TraceSources
import VirtioAnalysis
import VirtioModel
import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

/// What the fuzzer drives: the trace reader and model, the dump readers, the ring decoders
/// with the frame export and reports, and a recording's replay and manifest, each fed one input. None may trap, hang or
/// grow without bound, whatever the bytes.
enum FuzzTarget: String, CaseIterable {
    /// The bytes are a trace file: read, decoded and replayed through the verifying model.
    case trace
    /// The bytes are a dump file: opened as an ELF core (and as a raw image), a few ranges read.
    case dump
    /// The first 64 bytes say where a queue is and what was negotiated; the rest is a raw
    /// guest memory image at address 0 (``RingsInput``). Inspected, frames exported, reported.
    case rings
    /// The bytes are a run directory's `rings.jsonl`: replayed (`analyze RUN_DIR`), its
    /// refilled copies judged against a fixed trace of a net device, and its frames exported
    /// (`pcap RUN_DIR`).
    case recording

    /// Runs one input.
    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .trace: Self.trace(bytes)
        case .dump: Self.dump(bytes)
        case .rings: Self.rings(bytes)
        case .recording: Self.recording(bytes)
        }
    }

    /// A file of this process's own for the readers that take paths (every reader maps or
    /// streams a file, as it does in use).
    static let scratch = "/tmp/vqscope-fuzz-\(getpid())"

    static func write(_ bytes: UnsafeRawBufferPointer) -> String {
        let file = fopen(Self.scratch, "w")
        if let file {
            if let base = bytes.baseAddress { fwrite(base, 1, bytes.count, file) }
            fclose(file)
        }
        return Self.scratch
    }

    static func trace(_ bytes: UnsafeRawBufferPointer) {
        let path = Self.write(bytes)
        guard var reader = try? TraceReader(path: path, maximumLineLength: 4096, chunkSize: 4096) else { return }
        var analyzer = Analyzer(file: path, options: AnalysisOptions())
        while let item = try? reader.next() { analyzer.consume(item) }
        let report = analyzer.finish(statistics: reader.statistics)
        _ = TextReporter.render(report, color: false)
        _ = JSONReporter.render(report, toolVersion: "fuzz")
    }

    static func dump(_ bytes: UnsafeRawBufferPointer) {
        let path = Self.write(bytes)
        for base in [UInt64?.none, 0x4000_0000] {
            guard let memory = try? GuestMemoryDump.open(path: path, base: base) else { continue }
            for region in memory.regions.prefix(8) {
                _ = try? memory.bytes(at: region.guestAddress, length: Int(min(region.length, 64)))
                _ = try? memory.bytes(at: region.guestAddress &+ region.length &- 1, length: 2)
            }
        }
    }

    static func recording(_ bytes: UnsafeRawBufferPointer) {
        let directory = Self.scratch + ".run"
        mkdir(directory, 0o755)
        // The same bytes as the rings and as the manifest (run.json).
        for name in ["/rings.jsonl", "/run.json"] {
            guard let file = fopen(directory + name, "w") else { continue }
            if let base = bytes.baseAddress { fwrite(base, 1, bytes.count, file) }
            fclose(file)
        }
        _ = try? RecordedRun.replay(directory: directory)
        if access(directory + "/trace.log", F_OK) != 0, let file = fopen(directory + "/trace.log", "w") {
            fputs(Self.netTrace, file)
            fclose(file)
        }
        let whole = (try? RecordedRun.wholeCopies(directory: directory) { Self.netAnalysis(directory + "/trace.log") }) ?? []
        _ = try? RecordedFrames.read(path: directory + "/rings.jsonl", whole: whole) { _, _ in }
        if var report = Self.netAnalysis(directory + "/trace.log") { _ = try? RecordedRun.join(directory: directory, into: &report) }
    }

    /// A net device (receive queue 0, transmit queue 1) taking and filling receive buffers, a
    /// reset between: the trace a recording's refilled copies are judged against.
    static let netTrace = (
        ["virtio_set_status vdev 0x55d0c0003000 val 0",
         "virtio_queue_notify vdev 0x55d0c0003000 n 0 vq 0x7f000000a000",
         "virtio_queue_notify vdev 0x55d0c0003000 n 1 vq 0x7f000000b000",
         "virtqueue_pop vq 0x7f000000b000 elem 0x55d0c0009000 in_num 0 out_num 2",
         "virtqueue_fill vq 0x7f000000b000 elem 0x55d0c0009000 len 0 idx 0"]
            + (0..<8).flatMap { frame in
                ["virtqueue_pop vq 0x7f000000a000 elem 0x55d0c0008000 in_num 1 out_num 0",
                 "virtqueue_fill vq 0x7f000000a000 elem 0x55d0c0008000 len \(60 + frame) idx 0",
                 "virtqueue_flush vq 0x7f000000a000 count 1"]
                    + (frame == 4 ? ["virtio_set_status vdev 0x55d0c0003000 val 0"] : [])
            }
    ).enumerated().map { "100@1700000000.\(String(String(1_000_000 + 10 * $0.offset).dropFirst())):\($0.element)\n" }.joined()

    /// The analysis of ``netTrace`` (written at `path`).
    static func netAnalysis(_ path: String) -> AnalysisReport? {
        guard var reader = try? TraceReader(path: path) else { return nil }
        var analyzer = Analyzer(file: path, options: AnalysisOptions())
        while let item = try? reader.next() { analyzer.consume(item) }
        return analyzer.finish(statistics: reader.statistics)
    }

    static func rings(_ bytes: UnsafeRawBufferPointer) {
        guard let input = RingsInput(bytes) else { return }
        let path = Self.write(UnsafeRawBufferPointer(rebasing: bytes[RingsInput.headerSize...]))
        guard let memory = try? GuestMemoryDump.open(path: path, base: 0) else { return }
        let report = Inspector.inspect(memory: memory, dump: path, queues: [input.target])
        _ = NetFrames.extract(from: report, memory: memory) { _ in }
        _ = InspectionReporter.text(report, color: false, descriptors: true)
        _ = InspectionReporter.json(report, toolVersion: "fuzz")
    }
}

/// The header of a `rings` input: 64 bytes, little-endian.
///
/// ```
/// 0  desc u64   8 avail u64   16 used u64   24 size u16   26 flags u16   28 device u8
/// 29 queue index u8   30 last-avail u16   32 features u64   40 capacity u64   48 mtu u16   50…63 unused
/// ```
/// flags: bit 0 EVENT_IDX, 1 INDIRECT negotiated, 2 packed, 3 features known, 4 last-avail
/// known, 5 capacity known, 6 the queue is a net device's control queue, 7 mtu known. device: 1 net, 2 blk,
/// 3 console, 4 entropy, 18 input (virtio IDs).
struct RingsInput {
    static let headerSize = 64
    var target: QueueTarget

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.headerSize else { return nil }
        func little(_ offset: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        let flags = little(26, 2)
        let addresses = QueueAddresses(
            descriptorArea: little(0, 8), driverArea: little(8, 8), deviceArea: little(16, 8),
            size: UInt16(little(24, 2)))
        let types: [UInt64: DeviceType] = [1: .network, 2: .block, 3: .console, 4: .entropy, 18: .input]
        var options = Inspector.Options(
            eventIndex: flags & 1 != 0, indirectNegotiated: flags & 2 != 0, deviceType: types[little(28, 1)],
            features: flags & 8 != 0 ? FeatureBits(rawValue: little(32, 8)) : nil)
        options.packed = flags & 4 != 0
        options.blockCapacity = flags & 32 != 0 ? little(40, 8) : nil
        options.netControlQueue = flags & 64 != 0 ? Int(little(29, 1)) : nil
        options.netMTU = flags & 128 != 0 ? UInt16(little(48, 2)) : nil
        self.target = QueueTarget(
            addresses: addresses, queue: Int(little(29, 1)), options: options,
            lastAvailIndex: flags & 16 != 0 ? UInt16(little(30, 2)) : nil)
    }
}
