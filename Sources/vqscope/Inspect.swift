import ArgumentParser
import GuestMemory
import VirtioAnalysis
import VirtioModel
import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

/// A guest-physical address on the command line: `0x…` hex or decimal.
struct Address: ExpressibleByArgument {
    var value: UInt64

    init?(argument: String) {
        let text = argument.lowercased()
        guard let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text) else { return nil }
        self.value = value
    }
}

/// `desc=0x…,avail=0x…,used=0x…,size=N[,index=N][,last-avail=N]`: one queue's rings, and
/// optionally its index in the device (which decides its role: receive, transmit, …) and where
/// the device reads next (a packed queue's slot, as QMP's `last-avail-idx` gives it).
struct QueueSpecification: ExpressibleByArgument {
    var addresses: QueueAddresses
    var index: Int?
    var lastAvailIndex: UInt16?

    init?(argument: String) {
        var fields: [String: UInt64] = [:]
        for part in argument.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, let value = Address(argument: pair[1])?.value else { return nil }
            fields[pair[0].lowercased()] = value
        }
        guard let desc = fields["desc"], let avail = fields["avail"] ?? fields["driver"],
            let used = fields["used"] ?? fields["device"], let size = fields["size"], size <= UInt64(UInt16.max),
            fields.count == 4 + (fields["index"] == nil ? 0 : 1) + (fields["last-avail"] == nil ? 0 : 1),
            fields["index"].map({ $0 <= UInt64(UInt16.max) }) ?? true,
            fields["last-avail"].map({ $0 < size }) ?? true
        else { return nil }
        self.index = fields["index"].map { Int($0) }
        self.lastAvailIndex = fields["last-avail"].map { UInt16($0) }
        self.addresses = QueueAddresses(descriptorArea: desc, driverArea: avail, deviceArea: used, size: UInt16(size))
    }
}

/// `--features`: `0x…` bits, `VIRTIO_F_VERSION_1,VIRTIO_NET_F_CSUM`, or `/sys/bus/virtio/devices/*/features`.
struct FeatureList: ExpressibleByArgument {
    enum Form {
        case bits(FeatureBits)
        case names([String])
    }
    var form: Form

    init?(argument: String) {
        if argument.hasPrefix("0x"), let raw = UInt64(argument.dropFirst(2), radix: 16) {
            self.form = .bits(FeatureBits(rawValue: raw))
        } else if !argument.isEmpty, argument.count <= 128, argument.allSatisfy({ $0 == "0" || $0 == "1" }) {
            let set = argument.enumerated().filter { $1 == "1" }.map(\.offset)
            self.form = .bits(FeatureBits(rawValue: set.reduce(UInt64(0)) { $1 < 64 ? $0 | 1 << UInt64($1) : $0 }))
        } else {
            let names = argument.split(separator: ",").map { String($0).trimmingSpaces }
            guard !names.isEmpty, names.allSatisfy({ $0.hasPrefix("VIRTIO_") }) else { return nil }
            self.form = .names(names)
        }
    }

    func bits(for device: DeviceType?) -> FeatureBits {
        switch self.form {
        case .bits(let bits): return bits
        case .names(let names): return FeatureBits(names: names, device: device)
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

enum Negotiated: String, ExpressibleByArgument, CaseIterable {
    case yes
    case no
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Decode the virtqueues in a guest memory dump and check what one snapshot can show.",
        discussion: """
            DUMP is a QEMU dump-guest-memory ELF core, or a raw pmemsave image with --base. The queues \
            come from saved QMP replies (--qmp: x-query-virtio-status and x-query-virtio-queue-status, \
            which also give the negotiated features), from the virtio-mmio register writes of a trace \
            (--trace), and/or --queue. Split queues: the chains the device owns are walked and checked, \
            and their requests decoded; completed chains are judged where they still describe their \
            requests. Packed queues: the ring and event suppression are decoded and checked, and with \
            the device's position (QMP) the lists not yet read are walked. See docs/inspect.md.
            """
    )

    @OptionGroup var location: DumpLocation

    @Option(help: "Output format: text, json, junit or sarif.")
    var format: ReportFormat = .text

    @Flag(help: "In the text report, list every descriptor of the owned chains (JSON always has them).")
    var descriptors = false

    @Option(name: .customLong("fail-on"), help: "Exit 1 when a finding is at least this severe: note, warning, error or never.")
    var failOn: FailLevel = .error

    @OptionGroup var gating: GatingOptions

    func validate() throws {
        guard self.location.dump != nil else { throw ValidationError("give the dump with --dump") }
        try self.location.requireQueues()
    }

    func run() throws {
        let location = self.location
        let result = Self.execute(
            dump: location.dump ?? "", base: location.base?.value, qmp: location.qmp, trace: location.trace,
            queues: location.targets, options: location.options,
            format: self.format, failOn: self.failOn, gating: self.gating.gating, descriptors: self.descriptors,
            color: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
        if !result.output.isEmpty { print(result.output, terminator: "") }
        if !result.diagnostics.isEmpty { Analyze.printError(result.diagnostics) }
        if result.code != Exit.clean { throw ExitCode(result.code) }
    }

    /// A dump inspected at the queues QMP, a trace and the command line locate.
    struct Located {
        var report: InspectionReport
        var memory: GuestMemoryMap
        /// The trace's analysis, when a trace was given.
        var trace: AnalysisReport?
        var notes: [String]
    }

    /// Opens the dump, finds its queues (QMP, the trace's virtio-mmio writes, `queues`) and
    /// inspects them: what `inspect` reports and `pcap` exports from.
    static func locate(
        dump: String, base: UInt64?, qmp: String?, trace: String?, queues: [QueueTarget], options: Inspector.Options
    ) -> Result<Located, CommandFailure> {
        let memory: GuestMemoryMap
        var targets: [QueueTarget] = []
        var notes: [String] = []
        var traceReport: AnalysisReport?
        do {
            if let qmp {
                let found = try QueueDiscovery.fromQMP(qmp, flags: options)
                targets += found.targets
                notes += found.notes
            }
            if let trace {
                switch Analyze.analyze(trace: trace, options: AnalysisOptions()) {
                case .success(let report):
                    let found = QueueDiscovery.fromTrace(report, flags: options)
                    targets += found.targets
                    notes += found.notes
                    traceReport = report
                case .failure(let failure): return .failure(failure)
                }
            }
            memory = try GuestMemoryDump.open(path: dump, base: base)
        } catch {
            return .failure(CommandFailure(error))
        }
        targets += queues
        guard !targets.isEmpty else {
            return .failure(
                CommandFailure(message: (notes + ["vqscope: no queue to inspect"]).joined(separator: "\n"), code: Exit.undecodable))
        }
        return .success(
            Located(
                report: Inspector.inspect(memory: memory, dump: dump, queues: targets, trace: traceReport), memory: memory,
                trace: traceReport, notes: notes))
    }

    /// The whole inspection as a function of its inputs, so tests can run it in process.
    static func execute(
        dump: String, base: UInt64?, qmp: String? = nil, trace: String? = nil, queues: [QueueTarget],
        options: Inspector.Options = Inspector.Options(), format: ReportFormat, failOn: FailLevel, gating: Gating = Gating(),
        descriptors: Bool = false, color: Bool = false
    ) -> (output: String, diagnostics: String, code: Int32) {
        let located: Located
        switch Self.locate(dump: dump, base: base, qmp: qmp, trace: trace, queues: queues, options: options) {
        case .success(let found): located = found
        case .failure(let failure): return ("", failure.message, failure.code)
        }
        var report = located.report
        let notes = located.notes
        if case .failure(let failure) = gating.apply(to: &report, deviceTypes: report.deviceTypes) {
            return ("", failure.message, failure.code)
        }
        let inspected = report
        return gating.finish(
            inspected, input: dump, format: format, failOn: failOn, color: color, notes: notes,
            text: { InspectionReporter.text(inspected, color: $0, descriptors: descriptors) },
            json: { InspectionReporter.json(inspected, toolVersion: VQScope.version) })
    }
}

/// Where a dump's queues are and what was negotiated: the options `inspect` and `pcap` share.
struct DumpLocation: ParsableArguments {
    @Option(help: "The guest memory dump: an ELF core, or a raw image (then --base is needed).")
    var dump: String?

    @Option(help: "The guest-physical address of a raw image's first byte (hex 0x… or decimal).")
    var base: Address?

    @Option(help: "Saved QMP replies: a file (one reply, or a transcript) or a directory of *.json files.")
    var qmp: String?

    @Option(help: "A QEMU trace of the same run: the rings and features the driver programmed through virtio-mmio.")
    var trace: String?

    @Option(
        name: .customLong("queue"),
        help: ArgumentHelp(
            "A queue: desc=ADDR,avail=ADDR,used=ADDR,size=N[,index=N][,last-avail=N] (repeatable; index defaults to the "
                + "position; last-avail: a packed queue's next slot for the device, QMP's last-avail-idx).",
            valueName: "rings"))
    var queues: [QueueSpecification] = []

    @Option(help: "The --queue options' device type (net, blk, console, rng, input): enables the request checks.")
    var device: DeviceTypeArgument?

    @Option(
        help: ArgumentHelp(
            "The --queue device's negotiated features: a hex bit mask (0x…), spec names separated by commas, or Linux's sysfs string of 0s and 1s (bit 0 first).",
            valueName: "features"))
    var features: FeatureList?

    @Option(help: "The --queue block device's capacity in 512-byte sectors (its configuration's capacity): enables BLK-CAPACITY.")
    var capacity: UInt64?

    @Option(help: "The --queue network device's mtu (its configuration's mtu, with VIRTIO_NET_F_MTU): enables NET-TX-MTU.")
    var mtu: UInt16?

    @Flag(
        name: .customLong("event-idx"),
        help: "VIRTIO_F_EVENT_IDX was negotiated (the rings carry used_event and avail_event); QMP's features win.")
    var eventIndex = false

    @Option(help: "Whether VIRTIO_F_INDIRECT_DESC was negotiated: yes or no (unknown when left out); QMP's features win.")
    var indirect: Negotiated?

    func validate() throws {
        if case .names(let names)? = self.features?.form {
            let unknown = names.filter { FeatureBits(names: [$0], device: self.device?.type).rawValue == 0 }
            guard unknown.isEmpty else {
                throw ValidationError(
                    "unknown feature name(s) \(unknown.joined(separator: ", "))"
                        + (self.device == nil ? " (device-specific names need --device)" : ""))
            }
        }
    }

    /// The queues must come from somewhere: QMP, a trace (`trace`, when the command takes it
    /// as an argument too) or `--queue`.
    func requireQueues(trace: String? = nil) throws {
        guard !self.queues.isEmpty || self.qmp != nil || (self.trace ?? trace) != nil else {
            throw ValidationError(
                "give --qmp with saved QMP replies, --trace with a virtio-mmio trace, or at least one --queue desc=…,avail=…,used=…,size=N")
        }
    }

    /// What the command line says about the `--queue` queues (and, where QMP or the trace
    /// are silent, about theirs).
    var options: Inspector.Options {
        var flags = Inspector.Options(
            eventIndex: self.eventIndex, indirectNegotiated: self.indirect.map { $0 == .yes }, deviceType: self.device?.type)
        flags.blockCapacity = self.capacity
        flags.netMTU = self.mtu
        guard let list = self.features else { return flags }
        return Inspector.Options(
            features: list.bits(for: self.device?.type), deviceType: self.device?.type,
            queueIndices: self.queues.enumerated().map { $1.index ?? $0 }, fallback: flags)
    }

    /// The `--queue` queues, with what the command line says about them.
    var targets: [QueueTarget] {
        let options = self.options
        return self.queues.enumerated().map {
            QueueTarget(addresses: $1.addresses, queue: $1.index ?? $0, options: options, lastAvailIndex: $1.lastAvailIndex)
        }
    }
}
