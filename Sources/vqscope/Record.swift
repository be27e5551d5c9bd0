import ArgumentParser
import LiveCapture

#if canImport(Glibc)
import Glibc
#endif

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run QEMU and record every virtqueue transition from its shared guest RAM, with the trace and QMP.",
        discussion: """
            vqscope record -o RUN_DIR -- qemu-system-x86_64 -M q35 -m 256M …  starts QEMU with your \
            command line plus guest RAM in a shared file, a QMP socket, -msg timestamp=on and the \
            virtio trace events into RUN_DIR, replacing a recording already there. The guest's \
            console passes through. QEMU's standard error, its trace among it, is kept in \
            RUN_DIR/trace.log, and what is not trace (QEMU's messages) shown; SIGINT, SIGTERM and SIGHUP go to QEMU; recording ends when \
            QEMU exits (and a recorder killed outright takes QEMU with it). Every queue, split or packed, is \
            watched from its start: found in the trace when the driver enables it, else through \
            QMP at DRIVER_OK, and again after each reset. Each chain made available and each used \
            element is recorded in RUN_DIR/rings.jsonl, net frames with their bytes; what could \
            not be read is counted as missed, and a chain read only once the device had used it \
            as read late (recorded, not judged). The sampler busy-polls on a processor of its own \
            (the last one allowed) and QEMU runs on the others; QEMU waits at each trace line until \
            the sampler has read the one before (--no-lockstep: it writes ahead). Then: vqscope analyze RUN_DIR, \
            vqscope pcap RUN_DIR -o frames.pcap. See docs/record.md.
            """
    )

    @Option(name: [.customShort("o"), .customLong("output")], help: "The run directory (created if missing).")
    var output: String

    @Option(
        help: ArgumentHelp(
            "Pause QEMU while the sampler has begun no round for this many microseconds (the stall guard; 0: never).",
            discussion: "Lower pauses sooner, so a busy host makes it miss less, and costs the guest more time: on the "
                + "development machine Linux boots took 12-25 % longer recorded at 300, 5-14 % at 1000 in the same hour. "
                + "See docs/record.md."))
    var pauseAfter: Int = Recorder.defaultPauseAfterMicroseconds

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "QEMU writes each trace line only once the sampler has read the one before (the default).",
            discussion: "So every chain is read before the device can use it. --no-lockstep lets QEMU write ahead "
                + "into a 1 MiB pipe: on a host where other busy tasks share the sampler's processor the guest "
                + "runs faster, and entries made available and used while the sampler is off its processor are missed. "
                + "See docs/record.md."))
    var lockstep = true

    @Argument(parsing: .postTerminator, help: "The QEMU command line, after --.")
    var qemu: [String] = []

    func validate() throws {
        guard !self.qemu.isEmpty else { throw ValidationError("give the QEMU command line after --") }
        guard self.pauseAfter == 0 || Recorder.pauseAfterRange.contains(self.pauseAfter) else {
            throw ValidationError(
                "--pause-after takes 0 or \(Recorder.pauseAfterRange.lowerBound)–\(Recorder.pauseAfterRange.upperBound) microseconds")
        }
        do {
            _ = try QEMUCommand(arguments: self.qemu)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() throws {
        let command: QEMUCommand
        do {
            command = try QEMUCommand(arguments: self.qemu)
        } catch {
            throw ValidationError("\(error)")
        }
        // The exit status is QEMU's: a standard error whose reader has gone (`2>&1 | head`)
        // fails the summary's write (EPIPE) rather than ending vqscope with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        do {
            let summary = try Recorder.run(
                command: command, directory: self.output, pauseAfter: self.pauseAfter == 0 ? nil : Double(self.pauseAfter) / 1e6,
                lockstep: self.lockstep)
            Analyze.printError(
                "vqscope record: \(summary.queues) queue(s) watched, \(summary.availEntries) chains made available and "
                    + "\(summary.usedEntries) used elements recorded, \(summary.missed) missed, \(summary.late) read late"
                    + "; QEMU exited with \(summary.exitStatus); \(self.output)/rings.jsonl")
            if let failure = summary.traceWriteFailure { Analyze.printError("vqscope: the trace is incomplete: \(failure)") }
            if summary.exitStatus != 0 { throw ExitCode(summary.exitStatus) }
        } catch let error as RecordError {
            Analyze.printError("vqscope: \(error)")
            throw ExitCode(Exit.missingInput)
        }
    }
}
