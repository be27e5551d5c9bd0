import Foundation
import GuestMemory

/// What `vqscope record` refuses in a QEMU command line, and why.
public enum RecordError: Error, Equatable, CustomStringConvertible {
    case unsupportedCommand(String)
    case cannotStart(String)
    case io(String)

    public var description: String {
        switch self {
        case .unsupportedCommand(let why): "cannot record this QEMU command line: \(why)"
        case .cannotStart(let why): "cannot start QEMU: \(why)"
        case .io(let why): why
        }
    }
}

/// The user's QEMU command line, and the same with what recording needs: guest RAM in a
/// shared file of the run directory, a QMP socket, timestamps and the virtio trace events.
public struct QEMUCommand: Sendable, Equatable {
    /// The machine families whose RAM layout vqscope knows.
    public enum Machine: String, Sendable {
        /// x86 `q35`: RAM below 4 GiB up to 2 GiB (2.75 GiB when smaller), the rest at 4 GiB.
        case q35
        /// x86 `pc` (i440FX): up to 3.5 GiB below 4 GiB (3 GiB when larger), the rest at 4 GiB.
        case pc
        /// x86 `microvm`: up to 3 GiB below 4 GiB, the rest at 4 GiB.
        case microvm
        /// arm `virt`: RAM from 0x40000000.
        case virt
    }

    public let arguments: [String]
    public let machine: Machine
    /// Guest RAM in bytes (`-m`).
    public let memory: UInt64
    /// The log items of the command line's last `-d` (QEMU keeps the last), if any.
    let logItems: String?

    /// The trace events recording enables (written to the run directory's `events.txt`).
    public static let traceEvents = ["virtio_*", "virtqueue_*", "pci_cfg_write", "memory_region_ops_write", "memory_region_ops_read"]

    /// Reads the machine type and RAM size; refuses what would conflict with the shared RAM.
    public init(arguments: [String]) throws(RecordError) {
        guard let program = arguments.first else { throw .unsupportedCommand("no QEMU program given") }
        guard program.split(separator: "/").last?.hasPrefix("qemu-system-") == true else {
            throw .unsupportedCommand("\(program) is not a qemu-system-* program")
        }
        var machine: Machine?
        var memory: UInt64 = 128 << 20  // QEMU's default
        var logItems: String?
        var index = 1
        while index < arguments.count {
            // QEMU takes `--machine` as `-machine`.
            let option = arguments[index].hasPrefix("--") ? String(arguments[index].dropFirst()) : arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch option {
            case "-M", "-machine":
                for part in value.split(separator: ",") {
                    let text = String(part)
                    if text.hasPrefix("memory-backend=") {
                        throw .unsupportedCommand("-machine memory-backend is already set; vqscope record sets its own")
                    }
                    if text.hasPrefix("max-ram-below-4g=") {
                        throw .unsupportedCommand("-machine max-ram-below-4g moves RAM from where vqscope record looks for it")
                    }
                    if text.hasPrefix("confidential-guest-support=") || text.hasPrefix("memory-encryption=") {
                        throw .unsupportedCommand("\(text.prefix(40)): the guest's memory is encrypted, its rings cannot be read")
                    }
                    if !text.contains("=") || text.hasPrefix("type=") {
                        let name = text.hasPrefix("type=") ? String(text.dropFirst(5)) : text
                        machine = Self.machine(named: name) ?? machine
                        if Self.machine(named: name) == nil { throw .unsupportedCommand("machine \(name): only q35, pc, microvm and virt are known") }
                    }
                }
                index += 2
            case "-m":
                let size = value.split(separator: ",").first { !$0.contains("=") || $0.hasPrefix("size=") }
                    .map { $0.hasPrefix("size=") ? String($0.dropFirst(5)) : String($0) }
                guard let size, let bytes = Self.bytes(size) else { throw .unsupportedCommand("cannot read -m \(value)") }
                if value.contains("maxmem") || value.contains("slots") {
                    throw .unsupportedCommand("memory hotplug (-m slots/maxmem) is not supported")
                }
                memory = bytes
                index += 2
            case "-d":
                logItems = value
                index += 2
            case "-trace":
                if value.split(separator: ",").contains(where: { $0.hasPrefix("file=") }) {
                    throw .unsupportedCommand("-trace file= moves QEMU's log from its standard error, where vqscope record reads the trace")
                }
                index += 2
            case "-mem-path", "-mem-prealloc", "-numa":
                throw .unsupportedCommand("\(option) conflicts with the shared RAM file vqscope record gives the guest")
            case "-daemonize":
                throw .unsupportedCommand("-daemonize: QEMU would leave vqscope record at once and run on unwatched; record runs it in the foreground")
            case "-object":
                let type = Self.objectType(value)
                if let type, type.hasPrefix("memory-backend") {
                    throw .unsupportedCommand("-object \(type): a memory backend is already given")
                }
                // KVM's confidential guests (AMD SEV, Intel TDX): RAM the host reads is ciphertext.
                if let type, ["sev-guest", "sev-snp-guest", "tdx-guest"].contains(type) {
                    throw .unsupportedCommand("-object \(type): the guest's memory is encrypted, its rings cannot be read")
                }
                index += 2
            default:
                index += 1
            }
        }
        guard let machine else {
            throw .unsupportedCommand("give the machine type (-M q35, pc, microvm or virt): its RAM layout locates the rings")
        }
        self.arguments = arguments
        self.machine = machine
        self.memory = memory
        self.logItems = logItems
    }

    static func machine(named name: String) -> Machine? {
        if name.hasPrefix("pc-q35") { return .q35 }
        if name.hasPrefix("pc-i440fx") || name == "pc" { return .pc }
        if name.hasPrefix("virt") { return .virt }
        return Machine(rawValue: name)
    }

    /// An `-object` option's type: its first key-value part without a key, or `qom-type=`; in
    /// the JSON form (`{"qom-type": …}`), that member. Nil where it names none.
    static func objectType(_ value: String) -> String? {
        struct Object: Decodable {
            let type: String
            enum CodingKeys: String, CodingKey { case type = "qom-type" }
        }
        if value.hasPrefix("{") { return try? JSONDecoder().decode(Object.self, from: Data(value.utf8)).type }
        for (position, part) in value.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            if part.hasPrefix("qom-type=") { return String(part.dropFirst("qom-type=".count)) }
            if position == 0, !part.contains("="), !part.isEmpty { return String(part) }
        }
        return nil
    }

    /// `-m`'s size as QEMU 7.2 reads it: a decimal number of MiB, or one with a suffix B, K, M,
    /// G, T, P or E in either case, a fraction allowed with a suffix other than B (`1.5G`);
    /// rounded up to 8 KiB as QEMU rounds the RAM it gives the guest (`-m 100k` is 104 KiB).
    /// Nil for zero, past 64 bits, or what QEMU refuses.
    static func bytes(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "e": 1 << 60]
        guard let last = text.last else { return nil }
        let suffix = units[Character(last.lowercased())]
        let number = suffix == nil ? Substring(text) : text.dropLast()
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let decimal: (Substring) -> Bool = { !$0.isEmpty && $0.allSatisfy { $0 >= "0" && $0 <= "9" } }
        guard decimal(parts[0]), let whole = UInt64(parts[0]) else { return nil }
        let unit = suffix ?? 1 << 20
        var fraction: UInt64 = 0
        if parts.count == 2 {
            // QEMU multiplies the fraction as a double and truncates.
            guard suffix != nil, unit > 1, decimal(parts[1]), let value = Double("0." + parts[1]) else { return nil }
            fraction = UInt64(value * Double(unit))
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: unit)
        let (sum, carry) = scaled.addingReportingOverflow(fraction)
        let (rounded, past) = sum.addingReportingOverflow(8191)
        guard !overflow, !carry, !past, sum > 0 else { return nil }
        return rounded & ~8191
    }

    /// The command line QEMU is started with. Paths inside an option's `key=value` list have
    /// their commas doubled, as QEMU reads a literal comma there. The log stays on QEMU's
    /// standard error (a `-D` of the user's is left out), so that the trace and QEMU's messages
    /// come in one stream, in order, down the pipe the recorder gives it — its own open file,
    /// which a `-D /dev/stderr` would open anew, without the pipe's packet mode
    /// (``TraceTail/lockstep``). `-d guest_errors`, added to the user's own `-d` items, puts
    /// QEMU's complaints about register misuse (virtio-mmio's among them,
    /// `docs/trace-formats.md`) there too, as the capture scripts do.
    public func recordingArguments(ramFile: String, qmpSocket: String, eventsFile: String) -> [String] {
        func listed(_ path: String) -> String { path.replacingOccurrences(of: ",", with: ",,") }
        var kept: [String] = []
        var index = 0
        while index < self.arguments.count {
            if index > 0, ["-D", "--D"].contains(self.arguments[index]) {
                index += 2
                continue
            }
            kept.append(self.arguments[index])
            index += 1
        }
        return kept + [
            "-object", "memory-backend-file,id=vqscope-ram,size=\(self.memory),mem-path=\(listed(ramFile)),share=on",
            "-machine", "memory-backend=vqscope-ram",
            "-qmp", "unix:\(listed(qmpSocket)),server=on,wait=off",
            "-msg", "timestamp=on",
            "-trace", "events=\(listed(eventsFile))",
            "-d", self.logItems.map { $0 + ",guest_errors" } ?? "guest_errors",
        ]
    }

    /// Where each run of guest-physical RAM sits in the RAM file.
    public var ramRegions: [GuestMemoryMap.Region] {
        let lowLimit: UInt64
        switch self.machine {
        case .virt: return [GuestMemoryMap.Region(guestAddress: 0x4000_0000, length: self.memory, fileOffset: 0)]
        case .q35: lowLimit = self.memory >= 0xB000_0000 ? 0x8000_0000 : 0xB000_0000
        case .pc: lowLimit = self.memory >= 0xE000_0000 ? 0xC000_0000 : 0xE000_0000
        case .microvm: lowLimit = 0xC000_0000
        }
        let low = min(self.memory, lowLimit)
        var regions = [GuestMemoryMap.Region(guestAddress: 0, length: low, fileOffset: 0)]
        if self.memory > low {
            regions.append(GuestMemoryMap.Region(guestAddress: 1 << 32, length: self.memory - low, fileOffset: low))
        }
        return regions
    }
}
