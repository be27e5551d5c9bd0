import ArgumentParser
import GuestMemory
import VirtioAnalysis
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

/// `desc=0x…,avail=0x…,used=0x…,size=N`: one split queue's rings.
struct QueueSpecification: ExpressibleByArgument {
    var addresses: SplitQueueAddresses

    init?(argument: String) {
        var fields: [String: UInt64] = [:]
        for part in argument.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, let value = Address(argument: pair[1])?.value else { return nil }
            fields[pair[0].lowercased()] = value
        }
        guard let desc = fields["desc"], let avail = fields["avail"] ?? fields["driver"],
            let used = fields["used"] ?? fields["device"], let size = fields["size"], size <= UInt64(UInt16.max),
            fields.count == 4
        else { return nil }
        self.addresses = SplitQueueAddresses(descriptorTable: desc, availRing: avail, usedRing: used, size: UInt16(size))
    }
}

enum Negotiated: String, ExpressibleByArgument, CaseIterable {
    case yes
    case no
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode split virtqueues in a guest memory dump and check what one snapshot can show.",
        discussion: """
            DUMP is a QEMU dump-guest-memory ELF core, or a raw pmemsave image with --base. Give each \
            queue's rings with --queue (QMP x-query-virtio-queue-status shows vring-desc, vring-avail, \
            vring-used and vring-num). The chains between used.idx and avail.idx, owned by the device, \
            are walked and checked. See docs/inspect.md.
            """
    )

    @Option(help: "The guest memory dump: an ELF core, or a raw image (then --base is needed).")
    var dump: String

    @Option(help: "The guest-physical address of a raw image's first byte (hex 0x… or decimal).")
    var base: Address?

    @Option(
        name: .customLong("queue"),
        help: ArgumentHelp("A split queue: desc=ADDR,avail=ADDR,used=ADDR,size=N (repeatable).", valueName: "rings"))
    var queues: [QueueSpecification]

    @Flag(name: .customLong("event-idx"), help: "VIRTIO_F_EVENT_IDX was negotiated (the rings carry used_event and avail_event).")
    var eventIndex = false

    @Option(help: "Whether VIRTIO_F_INDIRECT_DESC was negotiated: yes or no (unknown when left out).")
    var indirect: Negotiated?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(name: .customLong("fail-on"), help: "Exit 1 when a finding is at least this severe: note, warning, error or never.")
    var failOn: FailLevel = .error

    func validate() throws {
        guard !self.queues.isEmpty else { throw ValidationError("give at least one --queue desc=…,avail=…,used=…,size=N") }
    }

    func run() throws {
        let options = Inspector.Options(eventIndex: self.eventIndex, indirectNegotiated: self.indirect.map { $0 == .yes })
        let result = Self.execute(
            dump: self.dump, base: self.base?.value, queues: self.queues.map(\.addresses), options: options,
            format: self.format, failOn: self.failOn, color: isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil)
        if !result.output.isEmpty { print(result.output, terminator: "") }
        if !result.diagnostics.isEmpty { Analyze.printError(result.diagnostics) }
        if result.code != Exit.clean { throw ExitCode(result.code) }
    }

    /// The whole inspection as a function of its inputs, so tests can run it in process.
    static func execute(
        dump: String, base: UInt64?, queues: [SplitQueueAddresses], options: Inspector.Options = Inspector.Options(),
        format: OutputFormat, failOn: FailLevel, color: Bool = false
    ) -> (output: String, diagnostics: String, code: Int32) {
        let memory: GuestMemoryMap
        do {
            memory = try GuestMemoryDump.open(path: dump, base: base)
        } catch {
            switch error {
            case .missing, .unreadable: return ("", "vqscope: \(error)", Exit.missingInput)
            default: return ("", "vqscope: \(error)", Exit.undecodable)
            }
        }
        let report = Inspector.inspect(memory: memory, dump: dump, queues: queues, options: options)
        let output: String
        switch format {
        case .text: output = InspectionReporter.text(report, color: color)
        case .json: output = InspectionReporter.json(report, toolVersion: VQScope.version)
        }
        var code = Exit.clean
        if let threshold = failOn.threshold, let highest = report.highestSeverity, highest >= threshold {
            code = Exit.findings
        }
        return (output, "", code)
    }
}
