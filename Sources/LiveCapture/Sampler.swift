import VirtioReporting
import GuestMemory
import Synchronization
import VirtioAnalysis
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// The queues being watched and what the ones no longer watched saw. Owned by the
/// ``Sampler``; changed by the QMP side only under its lock.
struct Rings {
    let writer: RingRecordWriter
    var memory: GuestMemoryMap?
    var watched: [WatchedQueue] = []
    /// How far apart the sampler's rounds began, where far (run.json `samplerGaps`).
    var gaps = RoundGaps()
    /// What the queues no longer watched saw (their device, or they, were reset), one entry per
    /// queue however often it was reset — a driver looping set-up and reset costs no memory —
    /// in the order first retired.
    var retired: [RetiredQueue] = []
    var retiredSlots: [String: Int] = [:]
    /// Labels of the devices QMP found at DRIVER_OK since their last reset.
    var ready: Set<String> = []
    /// Devices followed through the trace (``TracedDevice``), by how the trace names their
    /// transport; each transport's registers as its driver wrote them; the labels of the
    /// devices whose queues the trace gave, and of those it cannot give until their next reset.
    var traced = TracedDevices()
    var transports: [TraceTail.Transport: TransportRegisters] = [:]
    var traceOwned: Set<String> = []
    var traceRefused: Set<String> = []
    /// Resets seen per device label, so that what QMP said before one is not applied after it.
    var resets: [String: Int] = [:]
    /// Devices whose driver was found accepting features they do not offer since their last
    /// reset (FEAT-ACCEPT-SUBSET, said once an initialization).
    var unofferedReported: Set<String> = []
    /// Devices whose offer was judged (FEAT-OFFER-DEPS, BLK-WCE-NEEDS-FLUSH; once a run: QMP's
    /// offer does not change).
    var offersJudged: Set<String> = []

    struct RetiredQueue {
        let device: String
        let queue: Int
        var avail = 0, used = 0, missed = 0, late = 0, resets = 0

        var manifestEntry: String {
            Self.manifestEntry(
                device: self.device, queue: self.queue, avail: self.avail, used: self.used, missed: self.missed, late: self.late,
                resets: self.resets)
        }

        /// A queue's entry in `run.json`'s `queues`: a watch still going on has no `resets`.
        static func manifestEntry(device: String, queue: Int, avail: Int, used: Int, missed: Int, late: Int, resets: Int? = nil) -> String {
            "{\"device\": \(JSONWriter.quoted(device)), \"queue\": \(queue), \"availEntries\": \(avail), \"usedEntries\": \(used), "
                + "\"missed\": \(missed), \"late\": \(late)" + (resets.map { ", \"resets\": \($0)" } ?? "") + "}"
        }
    }

    /// The queue whose owned chains are compared next (one chain per scan, queue after queue).
    var exposedTurn = 0

    /// Scans every watched queue, then compares one chain its device owns with its walk when
    /// offered; true when something changed.
    mutating func scanAll() -> Bool {
        guard let memory = self.memory else { return false }
        let before = self.writer.lines
        let (time, clock) = (RingRecordWriter.now(), QMPConnection.now())
        for index in self.watched.indices { self.watched[index].scan(memory: memory, writer: self.writer, time: time, clock: clock) }
        if !self.watched.isEmpty {
            self.exposedTurn = (self.exposedTurn + 1) % self.watched.count
            self.watched[self.exposedTurn].checkExposed(memory: memory, writer: self.writer, clock: clock)
        }
        return self.writer.lines != before
    }

    /// Starts watching `queues`; one already watched at the same addresses (the trace and QMP
    /// both found it) is left as it is, one watched elsewhere is watched anew from its start.
    mutating func watch(_ queues: [WatchedQueue]) {
        for queue in queues {
            if let slot = self.watched.firstIndex(where: { $0.device == queue.device && $0.index == queue.index }) {
                guard self.watched[slot].addresses != queue.addresses || self.watched[slot].suspended else { continue }
                self.retire(queue.device, queue: queue.index)
            }
            self.start(queue)
            self.watched.append(queue)
        }
    }

    /// Records that `queue` is watched from now, and what is wrong with its layout.
    private func start(_ queue: WatchedQueue) {
        self.writer.write(queue.queueLine)
        let defects = ChainDefectFinding.layoutDefects(queue.addresses, packed: queue.isPacked)
        guard !defects.isEmpty else { return }
        var line = RecordLine("defect", location: queue.location)
        line.defects(defects)
        self.writer.write(line)
    }

    /// The watched queues of `label` whose rings stopped making sense: their index and addresses.
    func suspended(of label: String) -> [(index: Int, addresses: QueueAddresses)] {
        self.watched.filter { $0.device == label && $0.suspended }.map { ($0.index, $0.addresses) }
    }

    /// A suspended queue set up again at other addresses, watched anew from its start.
    mutating func rewatch(_ label: String, index: Int, at addresses: QueueAddresses, packedStart: WatchedQueue.PackedStart) {
        guard let slot = self.watched.firstIndex(where: { $0.device == label && $0.index == index && $0.suspended }) else { return }
        var fresh = self.watched[slot].restarted(at: addresses, packedStart: packedStart)
        fresh.suspended = false
        self.start(fresh)
        self.watched[slot] = fresh
    }

    /// The device was reset, or one queue of it (`queue`): those queues are no longer watched.
    mutating func retire(_ label: String, queue number: Int? = nil) {
        let retiring = { (queue: WatchedQueue) in queue.device == label && (number == nil || queue.index == number) }
        for index in self.watched.indices where retiring(self.watched[index]) {
            self.watched[index].endWaits(writer: self.writer)
        }
        for queue in self.watched where retiring(queue) {
            let key = "\(queue.index)@\(queue.device)"
            let slot = self.retiredSlots[key] ?? self.retired.count
            if slot == self.retired.count {
                self.retiredSlots[key] = slot
                self.retired.append(RetiredQueue(device: queue.device, queue: queue.index))
            }
            self.retired[slot].avail += queue.availSeen
            self.retired[slot].used += queue.usedSeen
            self.retired[slot].missed += queue.missed
            self.retired[slot].late += queue.late
            self.retired[slot].resets += 1
        }
        self.watched.removeAll(where: retiring)
        self.writer.write(
            "{\"kind\": \"reset\", \"t\": \(RingRecordWriter.now()), \"device\": \(JSONWriter.quoted(label))"
                + (number.map { ", \"queue\": \($0)" } ?? "") + "}")
    }

    /// The device was reset: its queues are retired (if any is watched) and what is known of
    /// it is forgotten. `transport`: the reset was not the driver's status write (QMP found the
    /// device out of DRIVER_OK: a system reset, a reboot), so the transport's registers went too.
    mutating func deviceReset(_ label: String, transport: Bool) {
        self.ready.remove(label)
        self.traceOwned.remove(label)
        self.traceRefused.remove(label)
        self.unofferedReported.remove(label)
        self.resets[label, default: 0] += 1
        if self.watched.contains(where: { $0.device == label }) { self.retire(label) }
        if transport {
            for key in self.transports.keys.filter({ self.traced[$0]?.label == label }) { self.transports[key] = nil }
        }
    }

    func summary(exitStatus: Int32) -> Recorder.Summary {
        Recorder.Summary(
            exitStatus: exitStatus, queues: self.retired.reduce(self.watched.count) { $0 + $1.resets },
            availEntries: self.retired.reduce(self.watched.reduce(0) { $0 + $1.availSeen }) { $0 + $1.avail },
            usedEntries: self.retired.reduce(self.watched.reduce(0) { $0 + $1.usedSeen }) { $0 + $1.used },
            missed: self.retired.reduce(self.watched.reduce(0) { $0 + $1.missed }) { $0 + $1.missed },
            late: self.retired.reduce(self.watched.reduce(0) { $0 + $1.late }) { $0 + $1.late })
    }
}

/// Rounds of the sampler's scans that began more than ``threshold`` after the one before: the
/// time no queue was looked at, whatever kept the sampler (another task on its processor, a
/// page fault, a long request, its own work on a burst). A list made available and used in
/// such a gap is missed; run.json gives their count and the longest beside what was missed.
struct RoundGaps: Equatable {
    /// The lengths the gaps are counted from in ``lengths``, in microseconds, ascending: the
    /// first is ``threshold``; at 1 ms and over the ``StallGuard`` stops QEMU by default.
    static let lengthBounds = [100, 200, 500, 1_000]
    /// Seconds: the shortest gap counted.
    static let threshold = Double(RoundGaps.lengthBounds[0]) / 1e6
    var count = 0
    var longest = 0.0
    /// How many gaps were at least each of ``lengthBounds`` long and shorter than the next.
    var lengths = [Int](repeating: 0, count: RoundGaps.lengthBounds.count)
    /// Over the rounds, in microseconds: how long the sampler waited while another task had its
    /// processor, and how long the hypervisor ran something else there (``ProcessorTime``);
    /// nil until the sampler stops, or where the kernel does not say.
    var waitingMicroseconds: Int?
    var stealMicroseconds: Int?

    /// A round began `interval` seconds after the one before.
    mutating func round(after interval: Double) {
        guard interval > Self.threshold else { return }
        self.count += 1
        self.longest = max(self.longest, interval)
        let microseconds = interval * 1e6
        if let bucket = Self.lengthBounds.lastIndex(where: { Double($0) <= microseconds }) { self.lengths[bucket] += 1 }
    }

    /// run.json's `samplerGaps`.
    var manifestEntry: String {
        let lengths = zip(Self.lengthBounds, self.lengths).map { "{\"fromMicroseconds\": \($0), \"count\": \($1)}" }
        return "{\"overMicroseconds\": \(Int(Self.threshold * 1e6)), \"count\": \(self.count), \"longestMicroseconds\": \(Int(self.longest * 1e6)), "
            + "\"lengths\": [\(lengths.joined(separator: ", "))], "
            + "\"waitingMicroseconds\": \(self.waitingMicroseconds.map(String.init) ?? "null"), "
            + "\"stealMicroseconds\": \(self.stealMicroseconds.map(String.init) ?? "null")}"
    }
}

/// The busy-polling thread that reads the rings (`../shared/reference/capture.md`: a reader
/// that sleeps, or stops for QMP round trips, loses entries). It gives the processor up to
/// other threads only when a scan found nothing new, and never waits for the QMP side: that
/// side hands it a request (``withRings(_:)``), which it runs between two rounds of scans.
final class Sampler: @unchecked Sendable {
    /// Lets one caller of ``withRings(_:)`` at a time hand a request over; allocated once, so
    /// its address never moves.
    private let callers = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// The sampler thread's alone while it runs (changed for the QMP side only by a request it
    /// runs), its caller's once ``stop()`` has joined it.
    private var rings: Rings
    private var running = true
    private var thread = pthread_t()
    private var joined = false
    /// What the QMP side asks to be run on the rings: set before `requested` is, cleared by the
    /// sampler before it clears `requested`.
    private var request: ((inout Rings) -> Void)?
    private let requested = Atomic<Bool>(false)
    /// QEMU's standard error, the trace among it, followed between scans (``TraceTail``), at
    /// most every ``tracePollInterval``.
    private let trace: TraceTail?
    /// Seconds, on CLOCK_MONOTONIC (``QMPConnection/now()``): a step of the wall clock does not stop the polls.
    static let tracePollInterval = 0.000_1
    /// Seconds: in ``TraceTail/lockstep`` a line seen waiting is read after a round that found
    /// nothing new, and after rounds that all found something for at most this long (a guest
    /// that makes entries available without end must not stop QEMU for good).
    static let lockstepPatience = 0.001
    /// Seconds: `rings.jsonl` is written out at least this often, in a round that found nothing
    /// new, so that a recorder killed outright leaves what it saw until a second before.
    static let flushInterval = 1.0
    /// `virtio_set_status` events the trace has shown, for the QMP side.
    private let statusEvents = Atomic<Int>(0)
    /// The processor the thread keeps to (``ProcessorSet``), if any, and whether the kernel agreed.
    private let processor: Int?
    private let placed = Atomic<Bool>(false)
    /// Beats at each round, for the ``StallGuard``.
    let heartbeat = Heartbeat()

    init(writer: RingRecordWriter, trace: TraceTail? = nil, processor: Int? = nil) throws(RecordError) {
        self.rings = Rings(writer: writer)
        self.trace = trace
        self.processor = processor
        pthread_mutex_init(self.callers, nil)
        self.thread = try ThreadStart.start("the sampler thread") { self.loop() }
    }

    deinit {
        pthread_mutex_destroy(self.callers)
        self.callers.deallocate()
    }

    /// Runs `body` on the rings between two rounds of the sampler's scans, on its thread, and
    /// returns what it returned. The caller waits, looking every 20 µs; the sampler neither
    /// waits nor makes a system call for it. It used to hand a lock over and wait for this
    /// side to be scheduled on QEMU's busy processor, take the lock and give it back: a build
    /// logging every round over 50 µs showed 24 such waits over 150 µs in eight packed runs.
    func withRings<T>(_ body: (inout Rings) -> T) -> T {
        guard !self.joined else { return body(&self.rings) }
        var result: T?
        withoutActuallyEscaping(body) { body in
            pthread_mutex_lock(self.callers)
            self.request = { result = body(&$0) }
            self.requested.store(true, ordering: .releasing)
            while self.requested.load(ordering: .acquiring) { usleep(20) }
            pthread_mutex_unlock(self.callers)
        }
        // Set by the request, which has run.
        return result!
    }

    /// `virtio_set_status` events in the trace so far.
    var statusEventCount: Int { self.statusEvents.load(ordering: .relaxed) }

    /// What the trace's tail did (``TraceTail/Account``); nil until the thread has stopped, or
    /// without a trace.
    var traceAccount: TraceTail.Account? { self.joined ? self.trace?.account : nil }

    /// The processor the sampler has to itself, once its thread is running there.
    var ownProcessor: Int? { self.placed.load(ordering: .relaxed) ? self.processor : nil }

    private func loop() {
        if let processor = self.processor, ProcessorSet([processor]).apply() { self.placed.store(true, ordering: .relaxed) }
        WarmUp.run()
        let processorTime = ProcessorTime.now(processor: self.ownProcessor)
        defer {
            (self.rings.gaps.waitingMicroseconds, self.rings.gaps.stealMicroseconds) =
                ProcessorTime.now(processor: self.ownProcessor).since(processorTime)
        }
        var lastTracePoll = 0.0
        // In lockstep: when the line waiting in the pipe was first seen there.
        var lineSeen: Double?
        var lastRound = QMPConnection.now()
        var lastFlush = lastRound
        while self.running {
            let round = QMPConnection.now()
            self.heartbeat.beat(at: round)
            self.rings.gaps.round(after: round - lastRound)
            lastRound = round
            // In lockstep QEMU waits for each read: a line seen waiting before this round's
            // scans is read once they have caught up, so they saw all QEMU did before it.
            if let trace = self.trace, trace.lockstep, lineSeen == nil, trace.hasInput { lineSeen = round }
            var changed = self.rings.scanAll()
            var qemuWaits = false
            if let trace = self.trace,
                trace.lockstep
                    ? lineSeen.map { !changed || QMPConnection.now() - $0 >= Self.lockstepPatience } ?? false
                    : QMPConnection.now() - lastTracePoll >= Self.tracePollInterval
            {
                lineSeen = nil
                lastTracePoll = QMPConnection.now()
                let writes = trace.poll()
                if !writes.isEmpty {
                    self.rings.apply(writes)
                    changed = true
                }
                self.statusEvents.store(trace.statusEvents, ordering: .relaxed)
                // More waiting: the next round polls again, after its scans, not 100 µs on.
                if trace.mayHaveMore { lastTracePoll = 0 }
                qemuWaits = trace.lockstep && trace.lastPollRead
            }
            if self.requested.load(ordering: .acquiring) { self.answer() }
            if !changed {
                if round - lastFlush >= Self.flushInterval {
                    self.rings.writer.flush()
                    lastFlush = round
                }
                // Not while QEMU is writing its trace: its next line waits for this thread.
                if !qemuWaits { sched_yield() }
            }
        }
    }

    /// Runs the QMP side's request.
    private func answer() {
        self.request?(&self.rings)
        self.request = nil
        self.requested.store(false, ordering: .releasing)
    }

    /// At most this many scans after the thread has stopped: two full rings of the largest size.
    static let finalScans = 2 * 32768 + 1

    /// Stops the thread; the rings after the last scans, the waits going on recorded.
    func stop() -> Rings {
        if !self.joined {
            self.withRings { _ in self.running = false }
            pthread_join(self.thread, nil)
            self.joined = true
            // What QEMU wrote last: the trace's end in trace.log, a queue enabled at the end watched.
            if let writes = self.trace?.drain(), !writes.isEmpty { self.rings.apply(writes) }
            // Scans until one records nothing: each reads a few entries of each queue
            // (``WatchedQueue/entriesPerScan``), and QEMU's last rounds may have left more.
            var scans = 0
            while scans < Self.finalScans, self.rings.scanAll() { scans += 1 }
            for index in self.rings.watched.indices { self.rings.watched[index].endWaits(writer: self.rings.writer) }
        }
        return self.rings
    }
}

/// The recorder's QMP side: the devices, which are at DRIVER_OK, and what changes in the
/// sampler's rings when that changes.
struct Session {
    let command: QEMUCommand
    let ramPath: String
    let sampler: Sampler
    var devices: [QMPConnection.DeviceEntry]?
    var mapped = false
    /// The devices the sampler follows through the trace (``TracedDevices``), and those it
    /// will once QMP shows where their common configuration structure is.
    var traced = TracedDevices()
    var unplaced: [(device: QMPConnection.DeviceEntry, followed: TracedDevice)] = []

    /// A device's name in the recording: QEMU's name for it and its QOM path.
    static func label(of device: QMPConnection.DeviceEntry) -> String { "\(device.name)@\(device.path)" }

    /// run.json's `devices`: each virtio device QMP listed, in its order, with what the
    /// recorder learnt of it — its type, transport (a virtio-mmio register block's address; a
    /// virtio-pci common configuration structure's, once the recorder needed and found it),
    /// queue count and offered features (QMP's `host-features`, a hexadecimal string: 64 bits
    /// do not fit a JSON number everywhere); nil where QMP never listed them.
    var manifestDevices: [String]? {
        guard let devices = self.devices else { return nil }
        var known: [String: (device: TracedDevice, transport: String)] = [:]
        for (address, device) in self.traced.mmio { known[device.label] = (device, "{\"kind\": \"virtio-mmio\", \"address\": \(address)}") }
        for device in self.traced.pciByName.values { known[device.label] = (device, "{\"kind\": \"virtio-pci\", \"commonConfig\": null}") }
        for (transport, device) in self.traced.pciPlaced {
            guard case .pci(_, let address) = transport else { continue }
            known[device.label] = (device, "{\"kind\": \"virtio-pci\", \"commonConfig\": \(address)}")
        }
        for entry in self.unplaced { known[entry.followed.label] = (entry.followed, "{\"kind\": \"virtio-pci\", \"commonConfig\": null}") }
        return devices.map { device in
            let label = Self.label(of: device)
            let entry = known[label]
            let type = DeviceType(qemuName: device.name)
            return "{\"label\": \(JSONWriter.quoted(label)), \"name\": \(JSONWriter.quoted(device.name)), \"path\": \(JSONWriter.quoted(device.path)), "
                + "\"type\": \(type.map { JSONWriter.quoted($0.shortName) } ?? "null"), \"transport\": \(entry?.transport ?? "null"), "
                + "\"queues\": \(entry.map { String($0.device.queueCount) } ?? "null"), "
                + "\"offeredFeatures\": \(entry?.device.offered.map { JSONWriter.quoted("0x" + String($0.rawValue, radix: 16)) } ?? "null")}"
        }
    }

    /// The arguments of `x-query-virtio-status` (and, with `queue`, `x-query-virtio-queue-status`) for `device`.
    static func arguments(_ device: QMPConnection.DeviceEntry, queue: Int? = nil) -> String {
        "{\"path\": \(JSONWriter.quoted(device.path))" + (queue.map { ", \"queue\": \($0)" } ?? "") + "}"
    }

    /// The device's status, not logged (the recorder polls it).
    static func status(of device: QMPConnection.DeviceEntry, client: QMPConnection) throws(QMPError) -> QMPVirtioStatusReply {
        try client.query("x-query-virtio-status", arguments: Self.arguments(device), logged: false, as: QMPVirtioStatusReply.self)
    }

    /// Asks QMP for each device's status: a device reaching DRIVER_OK has its queues watched
    /// from their start; one leaving it (a reset) has them dropped; suspended rings set up
    /// again elsewhere are watched anew.
    mutating func pollDevices(_ client: QMPConnection) throws(QMPError) {
        if !self.mapped, let file = try? MappedFile(path: self.ramPath, shared: true),
            let memory = try? GuestMemoryMap(file: file, regions: self.command.ramRegions)
        {
            self.mapped = true
            self.sampler.withRings { $0.memory = memory }
            // The mapping keeps the file: out of the directory now, it cannot outlive a
            // recorder killed outright (it is as large as the guest's memory).
            unlink(self.ramPath)
        }
        if self.devices == nil {
            let devices = try client.query("x-query-virtio", as: [QMPConnection.DeviceEntry].self)
            // Asked again at the next poll if a reply on the way fails.
            try self.follow(devices, client: client)
            self.devices = devices
        }
        if !self.unplaced.isEmpty { try self.place(client) }
        for device in self.devices ?? [] {
            let status = try Self.status(of: device, client: client)
            let label = Self.label(of: device)
            let (ready, traced, resets) = self.sampler.withRings {
                ($0.ready.contains(label), $0.traceOwned.contains(label), $0.resets[label, default: 0])
            }
            if status.driverOK, !ready, traced {
                // The trace gave the queues; the status is asked once more for the transcript
                // (`vqscope inspect --qmp` reads the features there).
                _ = try client.command("x-query-virtio-status", arguments: Self.arguments(device))
                self.sampler.withRings { _ = $0.ready.insert(label) }
            } else if status.driverOK, !ready {
                // Ready once its queues are watched: a QMP failure on the way means asking again.
                let queues = try self.queues(device: device, label: label, status: status, client: client)
                self.sampler.withRings {
                    // A reset the trace showed meanwhile makes these answers old: asked again.
                    guard $0.resets[label, default: 0] == resets else { return }
                    $0.ready.insert(label)
                    if !$0.traceOwned.contains(label) { $0.watch(queues) }
                }
            } else if status.driverOK, !traced {
                let suspended = self.sampler.withRings { $0.suspended(of: label) }
                for (index, old) in suspended {
                    let queue = try client.query(
                        "x-query-virtio-queue-status", arguments: Self.arguments(device, queue: index),
                        logged: false, as: QMPVirtioQueueReply.self)
                    guard let addresses = queue.addresses, addresses.size <= 32768, addresses != old else { continue }
                    let start = try self.packedStart(device: device, index: index, reply: queue, addresses: addresses, client: client)
                    self.sampler.withRings { $0.rewatch(label, index: index, at: addresses, packedStart: start) }
                }
            } else if !status.driverOK, ready {
                // A reset the trace did not show (its driver's status write would have cleared
                // `ready` first): a system reset, a reboot, bus mastering turned off.
                self.sampler.withRings { $0.deviceReset(label, transport: true) }
            }
        }
    }

    /// Tells the sampler which devices the trace can name (``TracedDevices``): those on
    /// virtio-mmio by their register block's address, the virtio-pci ones whose QEMU name is
    /// unique by that name, the others once they are placed (``place(_:)``); with a disk's size
    /// from `query-block`.
    private mutating func follow(_ devices: [QMPConnection.DeviceEntry], client: QMPConnection) throws(QMPError) {
        let blocks = devices.contains { DeviceType(qemuName: $0.name) == .block }
            ? try? client.query("query-block", as: [QMPVirtioSnapshot.BlockEntry].self) : nil
        let sizes = blocks.map(QMPVirtioSnapshot.imageSizes)
        var traced = TracedDevices()
        var pci: [(device: QMPConnection.DeviceEntry, followed: TracedDevice)] = []
        for device in devices {
            let type = DeviceType(qemuName: device.name)
            let capacity = type == .block ? sizes.flatMap { QMPVirtioSnapshot.blockCapacity(of: device.path, imageSizes: $0) } : nil
            let status = try Self.status(of: device, client: client)
            var followed = TracedDevice(
                label: Self.label(of: device), type: type, blockCapacity: capacity,
                queueCount: min(max(status.numVqs ?? 0, 0), CommonConfig.maximumQueues),
                offered: status.hostFeatures?.bits(device: type))
            followed.netMTU = try Self.netMTU(of: device, type: type, client: client)
            if let base = try Self.mmioBase(of: device, client: client) {
                traced.mmio[base] = followed
            } else {
                followed.defaultQueueSizes = try Self.defaultQueueSizes(of: device, count: followed.queueCount, client: client)
                pci.append((device, followed))
            }
        }
        var unplaced: [(device: QMPConnection.DeviceEntry, followed: TracedDevice)] = []
        for (name, entries) in Dictionary(grouping: pci, by: \.device.name) {
            if entries.count == 1 { traced.pciByName[name] = entries[0].followed } else { unplaced += entries }
        }
        (self.traced, self.unplaced) = (traced, unplaced)
        self.sampler.withRings { $0.follow(traced) }
    }

    /// Looks for the virtio-pci devices that share their QEMU name with another: each one whose
    /// common configuration structure is mapped now is followed by its address from now on.
    /// The trace's writes to it before were kept: queues already enabled are watched at once.
    private mutating func place(_ client: QMPConnection) throws(QMPError) {
        var placed = false
        for (position, entry) in self.unplaced.enumerated().reversed() {
            guard let address = try Self.commonConfigAddress(of: entry.device, client: client) else { continue }
            self.traced.pciPlaced[.pci(name: entry.device.name, address: address)] = entry.followed
            self.unplaced.remove(at: position)
            placed = true
        }
        if placed { self.sampler.withRings { [traced] in $0.follow(traced) } }
    }

    /// Each queue's size while its driver writes none (`vring-num-default`), for a driver that
    /// enables a queue without writing `queue_size` (SeaBIOS); asked once, not logged. A queue
    /// QEMU does not answer for, or whose default is 0 or past 16 bits, has none.
    private static func defaultQueueSizes(
        of device: QMPConnection.DeviceEntry, count: Int, client: QMPConnection
    ) throws(QMPError) -> [Int: UInt16] {
        var sizes: [Int: UInt16] = [:]
        for index in 0..<count {
            let reply: QMPVirtioQueueReply
            do {
                reply = try client.query(
                    "x-query-virtio-queue-status", arguments: Self.arguments(device, queue: index), logged: false,
                    as: QMPVirtioQueueReply.self)
            } catch .failed {
                continue
            }
            if let size = reply.vringNumDefault, size > 0, size <= UInt64(UInt16.max) { sizes[index] = UInt16(size) }
        }
        return sizes
    }

    /// A network device's `mtu` (§5.1.4), for NET-TX-MTU: QEMU's `host_mtu` property, set when
    /// QEMU offers VIRTIO_NET_F_MTU; nil for other devices, 0 (not set) or a QEMU that does not
    /// say.
    private static func netMTU(
        of device: QMPConnection.DeviceEntry, type: DeviceType?, client: QMPConnection
    ) throws(QMPError) -> UInt16? {
        guard type == .network, let mtu = try Self.property("host_mtu", of: device.path, as: UInt64.self, client: client),
            mtu > 0, mtu <= UInt64(UInt16.max)
        else { return nil }
        return UInt16(mtu)
    }

    /// A property of a QOM object; nil for an error reply (a QEMU whose objects do not say; a
    /// lost connection is thrown).
    private static func property<Value: Decodable>(
        _ name: String, of path: some StringProtocol, as type: Value.Type, client: QMPConnection
    ) throws(QMPError) -> Value? {
        do {
            return try client.query(
                "qom-get", arguments: "{\"path\": \(JSONWriter.quoted(String(path))), \"property\": \(JSONWriter.quoted(name))}", as: type)
        } catch .failed {
            return nil
        }
    }

    /// The address of a virtio-mmio device's register block: its parent bus belongs to the
    /// transport, whose region `virtio-mmio[0]` is mapped at `addr` in system memory. Nil for a
    /// device on another bus, or a QEMU whose objects do not say.
    private static func mmioBase(of device: QMPConnection.DeviceEntry, client: QMPConnection) throws(QMPError) -> UInt64? {
        guard let bus = try Self.property("parent_bus", of: device.path, as: String.self, client: client),
            bus.split(separator: "/").last?.hasPrefix("virtio-mmio-bus") == true,
            let slash = bus.lastIndex(of: "/")
        else { return nil }
        return try Self.property("addr", of: bus[..<slash] + "/virtio-mmio[0]", as: UInt64.self, client: client)
    }

    /// The guest-physical address of a virtio-pci device's common configuration structure, as
    /// the trace's absolute addresses give it: the region `virtio-pci-common-<name>[0]` of the
    /// PCI proxy (the parent of the device's bus) lies at `addr` in its `container` (the BAR),
    /// which lies at its `addr` in its container, and so on up to system memory. Nil while the
    /// BAR is not mapped there (before the firmware placed it, the chain ends elsewhere), for a
    /// device on another bus, or a QEMU whose objects do not say. (QEMU:
    /// `memory_region_to_absolute_addr`, the memory region's `addr` and `container` properties.)
    private static func commonConfigAddress(of device: QMPConnection.DeviceEntry, client: QMPConnection) throws(QMPError) -> UInt64? {
        guard let bus = try Self.property("parent_bus", of: device.path, as: String.self, client: client),
            bus.split(separator: "/").last == "virtio-bus", let slash = bus.lastIndex(of: "/")
        else { return nil }
        var region = bus[..<slash] + "/" + CommonConfig.qemuRegionPrefix + device.name + "[0]"
        var address: UInt64 = 0
        // System memory is three containers up on q35 (BAR, PCI memory, system); a bridge adds one each.
        for _ in 0..<Self.maximumContainers {
            guard let offset = try Self.property("addr", of: region, as: UInt64.self, client: client),
                let container = try Self.property("container", of: region, as: String.self, client: client)
            else { return nil }
            let (sum, overflow) = address.addingReportingOverflow(offset)
            guard !overflow else { return nil }
            address = sum
            if container.isEmpty { return region.split(separator: "/").last?.hasPrefix("system[") == true ? address : nil }
            region = container
        }
        return nil
    }

    private static let maximumContainers = 16

    /// The queues of a device that reached DRIVER_OK, with their addresses and features.
    private func queues(
        device: QMPConnection.DeviceEntry, label: String, status: QMPVirtioStatusReply, client: QMPConnection
    ) throws(QMPError) -> [WatchedQueue] {
        // Asked again for the transcript, so `vqscope inspect --qmp` reads the features there.
        _ = try client.command("x-query-virtio-status", arguments: Self.arguments(device))
        let type = DeviceType(qemuName: device.name)
        let features = status.guestFeatures.bits(device: type)
        var queues: [(Int, QueueAddresses, QMPVirtioQueueReply)] = []
        for index in 0..<min(max(status.numVqs ?? 0, 0), CommonConfig.maximumQueues) {
            let queue = try client.query(
                "x-query-virtio-queue-status", arguments: Self.arguments(device, queue: index),
                as: QMPVirtioQueueReply.self)
            guard let addresses = queue.addresses, addresses.size <= 32768 else { continue }
            queues.append((index, addresses, queue))
        }
        let control = type == .network && features.contains(.netControlQueue) ? queues.map(\.0).max() : nil
        // A disk's size, for BLK-CAPACITY (asked in the transcript too: `inspect --qmp` reads it).
        let blocks = type == .block ? try? client.query("query-block", as: [QMPVirtioSnapshot.BlockEntry].self) : nil
        let capacity = blocks.flatMap { QMPVirtioSnapshot.blockCapacity(of: device.path, imageSizes: QMPVirtioSnapshot.imageSizes($0)) }
        let mtu = try Self.netMTU(of: device, type: type, client: client)
        var watched: [WatchedQueue] = []
        for (index, addresses, queue) in queues {
            let start =
                features.contains(.ringPacked)
                ? try self.packedStart(device: device, index: index, reply: queue, addresses: addresses, client: client)
                : WatchedQueue.PackedStart(slot: 0, wrap: true)
            var queue = WatchedQueue(
                device: label, type: type, index: index, addresses: addresses, features: features, netControlQueue: control,
                packedStart: start)
            queue.blockCapacity = capacity
            queue.netMTU = mtu
            watched.append(queue)
        }
        return watched
    }

    /// Where a packed ring's device writes its next used descriptor: QMP's `used-idx`, and the
    /// wrap counter the flags there and in the slot before show
    /// (``WatchedQueue/deviceWrapCounter(at:flags:previousFlags:)``), read between two replies
    /// that agree on `used-idx` — no used descriptor was written meanwhile, so a used-looking
    /// slot is the previous lap's. A device too busy to agree five times is taken where it
    /// was last.
    private func packedStart(
        device: QMPConnection.DeviceEntry, index: Int, reply first: QMPVirtioQueueReply, addresses: QueueAddresses,
        client: QMPConnection
    ) throws(QMPError) -> WatchedQueue.PackedStart {
        let size = UInt64(max(addresses.size, 1))
        var reply = first
        var start = WatchedQueue.PackedStart(slot: Int(reply.usedIdx % size), wrap: true)
        for _ in 0..<5 {
            start.slot = Int(reply.usedIdx % size)
            let previous = start.slot == 0 ? Int(size) - 1 : start.slot - 1
            guard let memory = self.sampler.withRings({ $0.memory }),
                let here = PackedQueueSnapshot.descriptor(at: start.slot, ring: addresses, memory: memory),
                let before = PackedQueueSnapshot.descriptor(at: previous, ring: addresses, memory: memory)
            else { return start }
            start.wrap = WatchedQueue.deviceWrapCounter(at: start.slot, flags: here.flags, previousFlags: before.flags)
            let again = try client.query(
                "x-query-virtio-queue-status", arguments: Self.arguments(device, queue: index),
                logged: false, as: QMPVirtioQueueReply.self)
            if again.usedIdx == reply.usedIdx { return start }
            reply = again
        }
        return start
    }
}
