import FoundationEssentials
import TraceSources
import VirtioAnalysis
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// A run directory of `vqscope record`: its trace, and its ring transitions replayed
/// through the rules that need the rings over time (``RingReplay``).
public enum RecordedRun {
    /// The directory holds a recording (`rings.jsonl`).
    public static func isRun(_ path: String) -> Bool { access(path + "/rings.jsonl", F_OK) == 0 }

    public static func trace(in directory: String) -> String { directory + "/trace.log" }

    /// The ring transitions replayed: the queues, findings and waits for a notification, the
    /// lines that could not be read, and the last one if the file ends inside it. A received
    /// frame copied while its buffer was offered again counts as missed unless its line is one
    /// of `whole`.
    public static func replay(
        directory: String, whole: Set<Int> = []
    ) throws(RecordError) -> (queues: [RecordedQueueReport], findings: FindingSink, waits: [AwaitedNotification], problems: [String], cutOffLine: Int?) {
        let path = directory + "/rings.jsonl"
        var replay = RingReplay(file: path)
        let reading = try RingRecordReader.forEach(path: path) { record, line in
            guard let event = Self.event(record, whole: whole.contains(line)) else { return }
            replay.consume(event, line: line)
        }
        let (queues, sink, waits) = replay.finish()
        return (queues, sink, waits, reading.problems, reading.cutOffLine)
    }

    /// The lines of the received frames copied while their buffer was offered again that the
    /// run's trace shows whole (``RefilledCopies``), given `analysis`, the trace's (asked for
    /// only when there are such frames; nil: none is). Split rings only: a packed ring's used
    /// descriptors are not numbered from the device's reset.
    public static func wholeCopies(directory: String, analysis: () -> AnalysisReport?) throws(RecordError) -> Set<Int> {
        var packed: [String: Bool] = [:]
        var devices: [String: RecordedDevice] = [:]
        var copies: [RefilledCopy] = []
        _ = try RingRecordReader.forEach(path: directory + "/rings.jsonl") { record, line in
            guard let device = record.device else { return }
            switch record.kind {
            case "queue":
                if let queue = record.queue { packed["\(queue)@\(device)"] = record.packed == true }
                if devices[device] == nil, devices.count >= RecordedDevice.maximumDevices { return }
                devices[device, default: RecordedDevice(type: record.type.flatMap(DeviceType.init(name:)))].add(area: record.desc)
            case "used":
                guard record.refilled == true, record.data != nil, let queue = record.queue, packed["\(queue)@\(device)"] == false,
                    let index = record.index, let length = record.len, let copied = record.copied,
                    copies.count < RefilledCopies.maximumCopies
                else { return }
                copies.append(
                    RefilledCopy(
                        device: device, type: devices[device]?.type, queue: queue, position: UInt16(truncatingIfNeeded: index),
                        length: UInt32(truncatingIfNeeded: length), copied: copied, line: line))
            default: return
            }
        }
        guard !copies.isEmpty, let analysis = analysis() else { return [] }
        do {
            return try RefilledCopies.whole(copies, recorded: devices, analysis: analysis, trace: Self.trace(in: directory))
        } catch {
            throw .io("\(error)")
        }
    }

    /// The recording replayed and joined into `report`, the analysis of its trace: the lines of
    /// `rings.jsonl` that could not be read.
    public static func join(directory: String, into report: inout AnalysisReport) throws(RecordError) -> [String] {
        let replay = try Self.replay(directory: directory, whole: try Self.wholeCopies(directory: directory, analysis: { report }))
        report.recorder = Self.recorderReport(directory: directory)
        report.recordingCutOffLine = replay.cutOffLine
        do {
            try report.join(
                recording: directory + "/rings.jsonl", queues: replay.queues, findings: replay.findings, waits: replay.waits,
                trace: Self.trace(in: directory), endedNormally: report.recorder != nil && replay.cutOffLine == nil)
        } catch {
            throw .io("\(error)")
        }
        return replay.problems
    }

    /// The largest `run.json` read (a real one is a few kilobytes, 13 KiB with virtio-serial's 64 queues).
    static let maximumManifest = 1 << 20

    /// The parts of `run.json` the recorder's account is made of.
    private struct Manifest: Decodable {
        struct QEMU: Decodable { var version: String? }
        struct Queue: Decodable {
            var missed: Int?
            var late: Int?
        }
        var schema: String
        var version: Int
        var qemu: QEMU?
        var exitStatus: Int?
        var samplerGaps: RecorderReport.SamplerGaps?
        var pauses: RecorderReport.Pauses?
        var traceClock: RecorderReport.TraceClock?
        var traceLinesDropped: Int?
        var queues: [Queue]?
    }

    /// The recorder's account of the run, from `run.json` (``RecorderReport``): nil when the
    /// file is missing (a recorder killed before QEMU exited writes none), larger than
    /// ``maximumManifest``, or not a `vqscope.run` manifest of version 1. Counts are summed
    /// without overflow, negative ones taken as 0; chains read late only if some queue has
    /// the count (a recorder before 2101b41 wrote none).
    static func recorderReport(directory: String) -> RecorderReport? {
        guard let bytes = SmallFile.read(directory + "/run.json", limit: Self.maximumManifest) else { return nil }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: Data(bytes)),
            manifest.schema == "vqscope.run", manifest.version == 1
        else { return nil }
        func sum(_ count: (Manifest.Queue) -> Int?) -> Int {
            (manifest.queues ?? []).reduce(0) { total, queue in
                let (next, overflow) = total.addingReportingOverflow(max(count(queue) ?? 0, 0))
                return overflow ? Int.max : next
            }
        }
        return RecorderReport(
            qemuVersion: manifest.qemu?.version, exitStatus: manifest.exitStatus, missed: sum(\.missed),
            late: manifest.queues?.contains { $0.late != nil } == true ? sum(\.late) : nil,
            samplerGaps: manifest.samplerGaps, pauses: manifest.pauses, traceClock: manifest.traceClock,
            traceLinesDropped: manifest.traceLinesDropped.map { max($0, 0) })
    }

    /// The first descriptor that differs, as `[address, length, flags]` before and after.
    static func change(from offered: [[UInt64]], to now: [[UInt64]]) -> String {
        let text: ([UInt64]?) -> String = { $0.map { "[" + $0.map { "0x" + String($0, radix: 16) }.joined(separator: ", ") + "]" } ?? "none" }
        for position in 0..<max(offered.count, now.count) {
            let before = position < offered.count ? offered[position] : nil
            let after = position < now.count ? now[position] : nil
            if before != after { return "descriptor \(position + 1) was \(text(before)), is \(text(after))" }
        }
        return "its descriptor table entries differ"
    }

    /// A `suspended` line's index found where it cannot be: `availBefore` and `avail`, avail.idx
    /// went back; `usedBefore` and `used`, used.idx went back; `used` and `avail` alone, used.idx
    /// past avail.idx.
    static func fault(_ record: RingRecordReader.Line) -> IndexFault? {
        let index = { (value: Int) in UInt16(truncatingIfNeeded: value) }
        let time = record.t ?? 0
        if let from = record.availBefore, let to = record.avail { return IndexFault(.availWentBack, from: index(from), to: index(to), time: time) }
        if let from = record.usedBefore, let to = record.used { return IndexFault(.usedWentBack, from: index(from), to: index(to), time: time) }
        if let avail = record.avail, let used = record.used { return IndexFault(.usedPassedAvail, from: index(avail), to: index(used), time: time) }
        return nil
    }

    /// The replay's event for a line; `whole`: the line's frame, copied while its buffer was
    /// offered again, is known whole.
    static func event(_ record: RingRecordReader.Line, whole: Bool = false) -> RingEvent? {
        guard let device = record.device else { return nil }
        switch record.kind {
        case "reset": return .reset(device: device, queue: record.queue, time: record.t ?? 0)
        case "queue":
            guard let queue = record.queue, let size = record.size, size > 0, size <= 32768 else { return nil }
            return .queue(device: device, type: record.type.flatMap(DeviceType.init(name:)), queue: queue, size: UInt16(size),
                packed: record.packed == true, descriptorArea: record.desc)
        case "avail":
            guard let queue = record.queue, let head = record.head else { return nil }
            return .avail(
                device: device, queue: queue, time: record.t ?? 0, head: UInt16(truncatingIfNeeded: head),
                // A stale chain was not read; a late one was read after its completion, perhaps
                // from reused memory: neither is judged.
                writableBytes: record.stale == true || record.late == true ? nil : record.writable,
                defects: record.late == true ? [] : (record.defects ?? []).map { ChainDefectFinding(rule: $0.rule, message: $0.message) },
                completed: record.completed == true)
        case "used":
            guard let queue = record.queue, let id = record.id, let length = record.len else { return nil }
            return .used(device: device, queue: queue, time: record.t ?? 0, id: UInt32(truncatingIfNeeded: id),
                length: UInt32(truncatingIfNeeded: length), writeFlag: record.write, bytesMissed: record.refilled == true && !whole)
        case "window":
            guard let queue = record.queue, let availIndex = record.avail, let usedIndex = record.used, let size = record.size else { return nil }
            return .window(
                device: device, queue: queue, availIndex: UInt16(truncatingIfNeeded: availIndex), usedIndex: UInt16(truncatingIfNeeded: usedIndex),
                size: UInt16(truncatingIfNeeded: size))
        case "touched":
            guard let queue = record.queue, let head = record.head, let offered = record.offered, let now = record.now else { return nil }
            return .touched(device: device, queue: queue, head: UInt16(truncatingIfNeeded: head), change: Self.change(from: offered, to: now))
        case "suspended":
            guard let queue = record.queue else { return nil }
            return .suspended(device: device, queue: queue, fault: Self.fault(record))
        case "awaiting":
            guard let queue = record.queue, let kind = record.notification.flatMap(AwaitedNotification.Kind.init(rawValue:)),
                let index = record.index, let reached = record.reached, let from = record.from, let seen = record.seen,
                let last = record.last, let end = record.t
            else { return nil }
            var wait = AwaitedNotification(
                device: device, queue: queue, kind: kind, index: UInt16(truncatingIfNeeded: index),
                reached: UInt16(truncatingIfNeeded: reached), from: from, seen: seen, last: last, end: end)
            wait.flags = record.flags == true
            return .awaiting(wait)
        case "defect":
            guard let queue = record.queue, let defects = record.defects else { return nil }
            return .defects(device: device, queue: queue, defects.map { ChainDefectFinding(rule: $0.rule, message: $0.message) })
        case "missed":
            guard let queue = record.queue else { return nil }
            return .missed(
                device: device, queue: queue, offers: record.avail ?? 0, completions: record.used ?? 0,
                beforeAttach: record.beforeAttach == true)
        default: return nil
        }
    }
}
