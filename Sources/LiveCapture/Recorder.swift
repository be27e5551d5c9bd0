import GuestMemory
import VirtioAnalysis
import VirtioReporting
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// The QEMU process being recorded, for the signal handlers that pass signals on (``Recorder/forwardedSignals``).
nonisolated(unsafe) private var recordedProcess: pid_t = 0

/// `vqscope record`: starts QEMU with the user's command line plus shared guest RAM, a QMP
/// socket and the trace events, and while it runs watches every virtqueue (split or packed) of
/// every device that reaches DRIVER_OK, recording each ring transition (docs/record.md): QMP
/// on this thread, the rings polled by a ``Sampler`` thread of their own.
public enum Recorder {
    public struct Summary: Sendable {
        public var exitStatus: Int32
        public var queues: Int
        public var availEntries: Int
        public var usedEntries: Int
        public var missed: Int
        /// Chains read only once completed (``WatchedQueue/late``).
        public var late: Int
        /// Why `trace.log` is incomplete (``TraceTail/writeFailure``), if it is.
        public var traceWriteFailure: String?
    }

    /// How often QMP is asked for the devices' status (DRIVER_OK, resets) while the rings
    /// are polled in between: at once when the trace shows a status write, else every
    /// ``statusInterval`` — or ``followedStatusInterval`` once the trace has shown one (every
    /// reset, a system reset's too, is a status write there; each poll makes the sampler hand
    /// its lock over several times, and wait for this thread to be scheduled each time).
    static let statusInterval = 0.05
    static let followedStatusInterval = 0.5

    /// The stall guard's default, and the stalls it may be set to pause after (`record
    /// --pause-after`), in microseconds: below 100 µs it would look so often that it took QEMU's
    /// processor; past 100 ms it would not guard.
    public static let defaultPauseAfterMicroseconds = 1_000
    public static let pauseAfterRange = 100...100_000

    /// The signals passed on to QEMU while it runs (QEMU shuts down on each), the recorder
    /// waiting for it to exit and writing run.json as usual.
    static let forwardedSignals = [SIGINT, SIGTERM, SIGHUP]

    /// Records a run of `command` into `directory`; `pauseAfter`: the stall, in seconds, after
    /// which QEMU is paused (``StallGuard``), nil for never; `lockstep`: whether QEMU's trace
    /// writes wait for the sampler line by line (``TraceTail/lockstep``).
    public static func run(
        command: QEMUCommand, directory: String, pauseAfter: Double? = Double(Recorder.defaultPauseAfterMicroseconds) / 1e6,
        lockstep: Bool = true
    ) throws(RecordError) -> Summary {
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw .io("\(directory): cannot create: \(String(cString: strerror(errno)))")
        }
        RAMFile.removeAbandoned()
        let ram = RAMFile.path(directory: directory, memory: command.memory)
        let socket = directory + "/qmp.sock"
        let events = directory + "/events.txt"
        unlink(socket)
        unlink(ram)
        // A recording already in the directory is replaced whole: the QMP transcript is
        // appended to (QMP may be reconnected within a run), and run.json written only at the
        // end, so a run killed outright would otherwise leave the last one's beside its own.
        for earlier in ["run.json", "qmp.jsonl", "trace.log", "guest-ram"] { unlink(directory + "/" + earlier) }
        guard let eventsFile = fopen(events, "w") else { throw .io("\(events): cannot create") }
        fputs(QEMUCommand.traceEvents.joined(separator: "\n") + "\n", eventsFile)
        fclose(eventsFile)
        let arguments = command.recordingArguments(ramFile: ram, qmpSocket: socket, eventsFile: events)
        let writer = try RingRecordWriter(path: directory + "/rings.jsonl")
        // QEMU's standard error, its trace among it (``TraceTail``): both ends closed on exec,
        // QEMU getting a copy of the writing end.
        let standardError = try TraceTail.makePipe(packets: lockstep)
        let messages = QEMUMessages()
        let trace: TraceTail
        do {
            trace = try TraceTail(input: standardError.read, path: directory + "/trace.log", messages: messages)
        } catch {
            close(standardError.write)
            throw error
        }
        // The sampler gets a processor of its own; this thread, and QEMU started from it, the others.
        let placement = ProcessorSet.samplerPlacement(allowed: ProcessorSet.current())
        let sampler: Sampler
        do {
            sampler = try Sampler(writer: writer, trace: trace, processor: placement?.sampler)
        } catch {
            close(standardError.write)
            throw error
        }
        let others = placement.flatMap { $0.others.apply() ? $0.others : nil }
        let started = RingRecordWriter.now()
        // QEMU's messages are shown on this process's standard error: should its reader go
        // away, each write there fails (EPIPE) instead of SIGPIPE ending the recording. (The
        // `record` command ignores SIGPIPE throughout; this covers other callers, tests among them.)
        let pipeDisposition = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, pipeDisposition) }
        let pid: pid_t
        do {
            defer { close(standardError.write) }
            pid = try Self.spawn(arguments, standardError: standardError.write)
        } catch {
            _ = sampler.stop()
            throw error
        }
        recordedProcess = pid
        // Only where the sampler has a processor of its own (sharing QEMU's, it would stall
        // whenever QEMU runs), and unless the user said never.
        let stallGuard = others == nil ? nil : pauseAfter.flatMap {
            try? StallGuard(heartbeat: sampler.heartbeat, process: pid, timing: StallGuard.Timing(threshold: $0))
        }
        for number in Self.forwardedSignals {
            signal(number) { number in if recordedProcess > 0 { kill(recordedProcess, number) } }
        }
        var session = Session(command: command, ramPath: ram, sampler: sampler)
        var outlet = MessageOutlet()
        var status: Int32 = 0
        var qemuVersion = "?"
        var connection: QMPConnection?
        var lastStatusPoll = 0.0
        var statusEvents = 0
        while true {
            if Self.hasExited(pid) { break }
            let now = QMPConnection.now()
            usleep(2_000)
            outlet.pass(messages.take())
            // A status write in the trace: QMP is asked now, not at the next poll.
            if sampler.statusEventCount != statusEvents {
                statusEvents = sampler.statusEventCount
                lastStatusPoll = 0
            }
            if connection == nil {
                connection = try? QMPConnection(path: socket, transcript: directory + "/qmp.jsonl", wait: 0.2)
                if let connection, let version = try? connection.query("query-version", as: Version.self) {
                    qemuVersion = "\(version.qemu.major).\(version.qemu.minor).\(version.qemu.micro)"
                }
            } else if now - lastStatusPoll >= (statusEvents > 0 ? Self.followedStatusInterval : Self.statusInterval),
                let client = connection
            {
                lastStatusPoll = now
                if (try? session.pollDevices(client)) == nil { connection = nil }
            }
        }
        // The guard stops before QEMU is reaped, so that it never signals a process ID reused.
        let pauses = stallGuard?.stop()
        var raw: Int32 = 0
        if waitpid(pid, &raw, 0) == pid { status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f) }
        // The last scan, after QEMU's exit, sees what it wrote last.
        let rings = sampler.stop()
        recordedProcess = 0
        for number in Self.forwardedSignals { signal(number, SIG_DFL) }
        writer.flush()
        unlink(socket)
        var summary = rings.summary(exitStatus: status)
        let account = sampler.traceAccount
        summary.traceWriteFailure = account?.writeFailure
        try Self.writeManifest(
            directory: directory, command: command, arguments: arguments, qemuVersion: qemuVersion, started: started,
            summary: summary, rings: rings, devices: session.manifestDevices, trace: account,
            processors: (sampler.ownProcessor, others), pauseAfter: pauseAfter, pauses: pauses)
        // The RAM file is as large as the guest's memory: not kept (gone already once mapped).
        unlink(ram)
        // QEMU's last messages, once all is written: a second for the standard error to take them.
        outlet.pass(messages.take(), patience: 1)
        return summary
    }

    /// QEMU's messages (``QEMUMessages``) on their way to this process's standard error,
    /// written as far as it takes them without waiting: a terminal paused (Ctrl-S) or a reader
    /// that stopped reading must not hold up this thread, which follows QEMU and QMP. What waits
    /// here beyond ``QEMUMessages/limit`` is counted, not kept (all of it is in `trace.log`), and
    /// said in a line when the standard error takes output again; a reader gone drops it all.
    struct MessageOutlet {
        private var pending: [UInt8] = []
        private var dropped = 0

        /// Adds `waiting` and writes what the standard error takes; with `patience`, waits for
        /// it up to that many seconds (the last call, once QEMU has exited). Lines that find no
        /// room are counted, and a line saying how many takes their place once there is room
        /// for it (later lines are counted with them until then, so the order holds).
        mutating func pass(_ waiting: (bytes: [UInt8], dropped: Int), patience: Double = 0, to output: Int32 = STDERR_FILENO) {
            if self.dropped == 0, self.pending.count + waiting.bytes.count <= QEMUMessages.limit {
                self.pending += waiting.bytes
            } else {
                self.dropped += waiting.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
            self.dropped += waiting.dropped
            if self.dropped > 0 {
                let note = Array("vqscope: \(self.dropped) line(s) of QEMU's not shown here; all are in trace.log\n".utf8)
                if self.pending.count + note.count <= QEMUMessages.limit {
                    self.pending += note
                    self.dropped = 0
                }
            }
            guard !self.pending.isEmpty else { return }
            let deadline = QMPConnection.now() + patience
            var written = 0
            defer { self.pending.removeFirst(written) }
            while written < self.pending.count {
                var ready = pollfd(fd: output, events: Int16(POLLOUT), revents: 0)
                let wait = Int32(max(0, (deadline - QMPConnection.now()) * 1000))
                guard poll(&ready, 1, wait) > 0 else { return }
                // The reader has gone: nothing waiting will be shown.
                guard ready.revents & Int16(POLLERR | POLLHUP) == 0 else { return (written, self.dropped) = (self.pending.count, 0) }
                // Up to PIPE_BUF at a time: a pipe ready for output takes that much without waiting.
                let step = self.pending.withUnsafeBytes {
                    write(output, $0.baseAddress! + written, min($0.count - written, Int(PIPE_BUF)))
                }
                if step < 0, errno == EINTR { continue }
                // A standard error someone made non-blocking, full after all: the rest waits.
                if step < 0, errno == EAGAIN { return }
                guard step > 0 else { return (written, self.dropped) = (self.pending.count, 0) }
                written += step
            }
        }
    }

    /// Whether `pid` has exited, without reaping it (waitid(2) with WNOWAIT).
    static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_signo == SIGCHLD
    }

    struct Version: Decodable {
        struct Triple: Decodable { var major: Int; var minor: Int; var micro: Int }
        var qemu: Triple
    }

    /// Starts QEMU with the terminal's standard input and output (the guest's console passes
    /// through), and its standard error on `standardError` if given (``TraceTail``); SIGPIPE
    /// as the default has it, whatever the recorder does with it.
    /// Where util-linux's setpriv(1) is installed, through it, with SIGKILL as QEMU's
    /// parent-death signal (prctl(2) `PR_SET_PDEATHSIG`): a recorder that dies without passing a
    /// signal on (SIGKILL, a crash) takes QEMU with it instead of leaving it running unrecorded,
    /// or stopped for good if the ``StallGuard`` had paused it (a stopped process handles no
    /// other signal).
    static func spawn(_ arguments: [String], standardError: Int32? = nil) throws(RecordError) -> pid_t {
        guard let program = Self.executable(arguments[0]) else {
            throw .cannotStart("\(arguments[0]): no such executable\(arguments[0].contains("/") ? "" : " on the PATH")")
        }
        let launcher = Self.executable("setpriv").map { [$0, "--pdeathsig", "KILL", "--"] } ?? []
        var pid: pid_t = 0
        let started = launcher + [program] + arguments.dropFirst()
        var argv: [UnsafeMutablePointer<CChar>?] = started.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardError { posix_spawn_file_actions_adddup2(&actions, standardError, STDERR_FILENO) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        let result = posix_spawn(&pid, started[0], &actions, &attributes, &argv, environ)
        guard result == 0 else { throw .cannotStart("\(program): \(String(cString: strerror(result)))") }
        return pid
    }

    /// The executable file `name` names: itself where it has a slash, else the first in a
    /// directory of `PATH` (as execvp(3) looks; `/bin:/usr/bin` without one).
    static func executable(_ name: String, path: String? = getenv("PATH").map { String(cString: $0) }) -> String? {
        func runnable(_ candidate: String) -> Bool {
            var status = stat()
            return stat(candidate, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && access(candidate, X_OK) == 0
        }
        guard !name.isEmpty else { return nil }
        if name.contains("/") { return runnable(name) ? name : nil }
        let directories = (path ?? "/bin:/usr/bin").split(separator: ":", omittingEmptySubsequences: false)
        return directories.lazy.map { ($0.isEmpty ? "." : String($0)) + "/" + name }.first(where: runnable)
    }

    static func writeManifest(
        directory: String, command: QEMUCommand, arguments: [String], qemuVersion: String, started: Int64,
        summary: Summary, rings: Rings, devices: [String]?, trace: TraceTail.Account?, processors: (sampler: Int?, others: ProcessorSet?), pauseAfter: Double?, pauses: StallGuard.Pauses?
    ) throws(RecordError) {
        guard let file = fopen(directory + "/run.json", "w") else { throw .io("\(directory)/run.json: cannot create") }
        defer { fclose(file) }
        let regions = command.ramRegions.map {
            "{\"guestAddress\": \($0.guestAddress), \"length\": \($0.length), \"fileOffset\": \($0.fileOffset)}"
        }
        let queues = rings.watched.map {
            Rings.RetiredQueue.manifestEntry(
                device: $0.device, queue: $0.index, avail: $0.availSeen, used: $0.usedSeen, missed: $0.missed, late: $0.late)
        } + rings.retired.map(\.manifestEntry)
        let text = """
            {
              "schema": "vqscope.run",
              "version": 1,
              "qemu": {"version": \(JSONWriter.quoted(qemuVersion)), "arguments": [\(command.arguments.map(JSONWriter.quoted).joined(separator: ", "))]},
              "recordedArguments": [\(arguments.map(JSONWriter.quoted).joined(separator: ", "))],
              "machine": \(JSONWriter.quoted(command.machine.rawValue)),
              "memory": \(command.memory),
              "ramRegions": [\(regions.joined(separator: ", "))],
              "devices": \(devices.map { "[" + $0.joined(separator: ",\n    ") + "]" } ?? "null"),
              "clock": "rings.jsonl times (t) are CLOCK_REALTIME nanoseconds, the clock of the trace's -msg timestamp=on lines",
              "traceClock": \(trace?.readLag.manifestEntry ?? "null"),
              "traceLinesDropped": \(trace.map { String($0.droppedLines) } ?? "null"),
              "tracePipeBytes": \(trace.map { String($0.pipeBytes) } ?? "null"),
              "traceLockstep": \(trace.map { String($0.lockstep) } ?? "null"),
              "processors": {"sampler": \(processors.sampler.map(String.init) ?? "null"), "qemu": \(processors.others.map { "[" + $0.members.map(String.init).joined(separator: ", ") + "]" } ?? "null")},
              "samplerGaps": \(rings.gaps.manifestEntry),
              "pauseAfterMicroseconds": \(pauseAfter.map { Int(($0 * 1e6).rounded()) } ?? 0),
              "pauses": \(pauses.map(\.manifestEntry) ?? "null"),
              "peakResidentKiB": \(ProcFile.peakResidentKiB().map(String.init) ?? "null"),
              "started": \(started),
              "ended": \(RingRecordWriter.now()),
              "exitStatus": \(summary.exitStatus),
              "queues": [\(queues.joined(separator: ",\n    "))]
            }

            """
        fputs(text, file)
    }
}

