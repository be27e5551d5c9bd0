import GuestMemory
import VirtioAnalysis
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// The QEMU process being recorded, for the signal handlers that pass SIGINT and SIGTERM on.
nonisolated(unsafe) private var recordedProcess: pid_t = 0

/// `vqscope record`: starts QEMU with the user's command line plus shared guest RAM, a QMP
/// socket and the trace events, and while it runs watches every split virtqueue of every
/// device that reaches DRIVER_OK, recording each ring transition (docs/record.md).
public enum Recorder {
    public struct Summary: Sendable {
        public var exitStatus: Int32
        public var queues: Int
        public var availEntries: Int
        public var usedEntries: Int
        public var missed: Int
        public var packedQueuesSkipped: Int
    }

    /// How often QMP is asked for the devices' status (DRIVER_OK, resets) while the rings
    /// are polled in between.
    static let statusInterval = 0.05

    public static func run(command: QEMUCommand, directory: String) throws(RecordError) -> Summary {
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw .io("\(directory): cannot create: \(String(cString: strerror(errno)))")
        }
        let ram = directory + "/guest-ram"
        let socket = directory + "/qmp.sock"
        let events = directory + "/events.txt"
        unlink(socket)
        unlink(ram)
        guard let eventsFile = fopen(events, "w") else { throw .io("\(events): cannot create") }
        fputs(QEMUCommand.traceEvents.joined(separator: "\n") + "\n", eventsFile)
        fclose(eventsFile)
        let arguments = command.recordingArguments(
            ramFile: ram, qmpSocket: socket, eventsFile: events, traceFile: directory + "/trace.log")
        let started = RingRecordWriter.now()
        let pid = try Self.spawn(arguments)
        recordedProcess = pid
        signal(SIGINT) { number in if recordedProcess > 0 { kill(recordedProcess, number) } }
        signal(SIGTERM) { number in if recordedProcess > 0 { kill(recordedProcess, number) } }
        let writer = try RingRecordWriter(path: directory + "/rings.jsonl")
        var session = Session(command: command, ramPath: ram, writer: writer)
        var status: Int32 = 0
        var qemuVersion = "?"
        var connection: QMPConnection?
        var lastStatusPoll = 0.0
        while true {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                session.scanAll()
                break
            }
            let now = QMPConnection.now()
            if connection == nil {
                connection = try? QMPConnection(path: socket, transcript: directory + "/qmp.jsonl", wait: 0.2)
                if let connection, let version = try? connection.query("query-version", as: Version.self) {
                    qemuVersion = "\(version.qemu.major).\(version.qemu.minor).\(version.qemu.micro)"
                }
            } else if now - lastStatusPoll >= Self.statusInterval, let client = connection {
                lastStatusPoll = now
                if (try? session.pollDevices(client)) == nil { connection = nil }
            }
            // Busy polling (a short sleep lost entries in a prototype); the processor is given up
            // to QEMU's threads when nothing changed.
            if !session.scanAll() { sched_yield() }
        }
        recordedProcess = 0
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        writer.flush()
        unlink(socket)
        let summary = session.summary(exitStatus: status)
        try Self.writeManifest(
            directory: directory, command: command, arguments: arguments, qemuVersion: qemuVersion, started: started,
            summary: summary, session: session)
        // The RAM file is as large as the guest's memory: not kept.
        unlink(ram)
        return summary
    }

    struct Version: Decodable {
        struct Triple: Decodable { var major: Int; var minor: Int; var micro: Int }
        var qemu: Triple
    }

    /// Starts QEMU with the terminal's standard input and output (the guest's console passes
    /// through).
    static func spawn(_ arguments: [String]) throws(RecordError) -> pid_t {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let result = posix_spawnp(&pid, arguments[0], nil, nil, &argv, environ)
        guard result == 0 else { throw .cannotStart("\(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    static func writeManifest(
        directory: String, command: QEMUCommand, arguments: [String], qemuVersion: String, started: Int64,
        summary: Summary, session: Session
    ) throws(RecordError) {
        guard let file = fopen(directory + "/run.json", "w") else { throw .io("\(directory)/run.json: cannot create") }
        defer { fclose(file) }
        let regions = command.ramRegions.map {
            "{\"guestAddress\": \($0.guestAddress), \"length\": \($0.length), \"fileOffset\": \($0.fileOffset)}"
        }
        let queues = session.watched.map {
            "{\"device\": \(JSONText.quoted($0.device)), \"queue\": \($0.index), \"availEntries\": \($0.availSeen), "
                + "\"usedEntries\": \($0.usedSeen), \"missed\": \($0.missed)}"
        } + session.retired
        let text = """
            {
              "schema": "vqscope.run",
              "version": 1,
              "qemu": {"version": \(JSONText.quoted(qemuVersion)), "arguments": [\(command.arguments.map(JSONText.quoted).joined(separator: ", "))]},
              "recordedArguments": [\(arguments.map(JSONText.quoted).joined(separator: ", "))],
              "machine": \(JSONText.quoted(command.machine.rawValue)),
              "memory": \(command.memory),
              "ramRegions": [\(regions.joined(separator: ", "))],
              "clock": "rings.jsonl times (t) are CLOCK_REALTIME nanoseconds, the clock of the trace's -msg timestamp=on lines",
              "started": \(started),
              "ended": \(RingRecordWriter.now()),
              "exitStatus": \(summary.exitStatus),
              "packedQueuesSkipped": \(summary.packedQueuesSkipped),
              "queues": [\(queues.joined(separator: ",\n    "))]
            }

            """
        fputs(text, file)
    }
}

/// The recorder's view of the devices and the queues it watches.
struct Session {
    let command: QEMUCommand
    let ramPath: String
    let writer: RingRecordWriter
    var memory: GuestMemoryMap?
    var devices: [QMPConnection.DeviceEntry]?
    /// Devices at DRIVER_OK, by QOM path.
    var ready: Set<String> = []
    var watched: [WatchedQueue] = []
    /// Manifest entries of queues no longer watched (their device was reset).
    var retired: [String] = []
    /// What the retired queues saw: queues, chains made available, used elements, missed.
    var retiredTotals = (queues: 0, avail: 0, used: 0, missed: 0)
    var packedQueuesSkipped = 0

    init(command: QEMUCommand, ramPath: String, writer: RingRecordWriter) {
        self.command = command
        self.ramPath = ramPath
        self.writer = writer
    }

    /// Scans every watched queue; true when something changed.
    mutating func scanAll() -> Bool {
        guard let memory = self.memory else { return false }
        let before = self.writer.lines
        for index in self.watched.indices { _ = self.watched[index].scan(memory: memory, writer: self.writer) }
        return self.writer.lines != before
    }

    /// Asks QMP for each device's status: a device reaching DRIVER_OK has its queues watched
    /// from index 0; one leaving it (a reset) has them dropped.
    mutating func pollDevices(_ client: QMPConnection) throws(QMPError) {
        if self.memory == nil, let file = try? MappedFile(path: self.ramPath, shared: true) {
            self.memory = try? GuestMemoryMap(file: file, regions: self.command.ramRegions)
        }
        if self.devices == nil { self.devices = try client.query("x-query-virtio", as: [QMPConnection.DeviceEntry].self) }
        for device in self.devices ?? [] {
            let status = try client.query(
                "x-query-virtio-status", arguments: "{\"path\": \(JSONText.quoted(device.path))}", logged: false,
                as: QMPVirtioStatusReply.self)
            let label = "\(status.name)@\(device.path)"
            if status.driverOK, !self.ready.contains(device.path) {
                self.ready.insert(device.path)
                try self.watch(device: device, label: label, status: status, client: client)
            } else if status.driverOK {
                try self.rewatchSuspended(device: device, label: label, client: client)
            } else if !status.driverOK, self.ready.contains(device.path) {
                self.ready.remove(device.path)
                self.retire(label)
                self.writer.write("{\"kind\": \"reset\", \"t\": \(RingRecordWriter.now()), \"device\": \(JSONText.quoted(label))}")
            }
        }
    }

    private mutating func watch(
        device: QMPConnection.DeviceEntry, label: String, status: QMPVirtioStatusReply, client: QMPConnection
    ) throws(QMPError) {
        // Asked again for the transcript, so `vqscope inspect --qmp` reads the features there.
        _ = try client.command("x-query-virtio-status", arguments: "{\"path\": \(JSONText.quoted(device.path))}")
        let type = DeviceType(qemuName: status.name)
        let features = FeatureBits(names: status.featureNames, device: type)
        var queues: [(Int, QueueAddresses)] = []
        for index in 0..<min(status.numVqs ?? 0, 1024) {
            let queue = try client.query(
                "x-query-virtio-queue-status", arguments: "{\"path\": \(JSONText.quoted(device.path)), \"queue\": \(index)}",
                as: QMPVirtioQueueReply.self)
            guard let addresses = queue.addresses, addresses.size <= 32768 else { continue }
            queues.append((index, addresses))
        }
        if features.contains(.ringPacked) {
            self.packedQueuesSkipped += queues.count
            return
        }
        let control = type == .network && features.contains(.netControlQueue) ? queues.map(\.0).max() : nil
        for (index, addresses) in queues {
            let watched = WatchedQueue(
                device: label, type: type, index: index, addresses: addresses, features: features, netControlQueue: control)
            self.writer.write(watched.queueLine)
            self.watched.append(watched)
        }
    }

    /// Queues whose rings stopped making sense: set up again elsewhere (the driver reset the
    /// device between two polls) are watched anew from index 0; broken where they are, they
    /// stay suspended.
    private mutating func rewatchSuspended(
        device: QMPConnection.DeviceEntry, label: String, client: QMPConnection
    ) throws(QMPError) {
        for slot in self.watched.indices where self.watched[slot].device == label && self.watched[slot].suspended {
            let old = self.watched[slot]
            let queue = try client.query(
                "x-query-virtio-queue-status", arguments: "{\"path\": \(JSONText.quoted(device.path)), \"queue\": \(old.index)}",
                logged: false, as: QMPVirtioQueueReply.self)
            guard let addresses = queue.addresses, addresses.size <= 32768, addresses != old.addresses else { continue }
            var fresh = old.restarted(at: addresses)
            fresh.suspended = false
            self.writer.write(fresh.queueLine)
            self.watched[slot] = fresh
        }
    }

    private mutating func retire(_ label: String) {
        for queue in self.watched where queue.device == label {
            self.retiredTotals.queues += 1
            self.retiredTotals.avail += queue.availSeen
            self.retiredTotals.used += queue.usedSeen
            self.retiredTotals.missed += queue.missed
            self.retired.append(
                "{\"device\": \(JSONText.quoted(queue.device)), \"queue\": \(queue.index), \"availEntries\": \(queue.availSeen), "
                    + "\"usedEntries\": \(queue.usedSeen), \"missed\": \(queue.missed), \"reset\": true}")
        }
        self.watched.removeAll { $0.device == label }
    }

    func summary(exitStatus: Int32) -> Recorder.Summary {
        Recorder.Summary(
            exitStatus: exitStatus, queues: self.watched.count + self.retiredTotals.queues,
            availEntries: self.watched.reduce(self.retiredTotals.avail) { $0 + $1.availSeen },
            usedEntries: self.watched.reduce(self.retiredTotals.used) { $0 + $1.usedSeen },
            missed: self.watched.reduce(self.retiredTotals.missed) { $0 + $1.missed }, packedQueuesSkipped: self.packedQueuesSkipped)
    }
}
