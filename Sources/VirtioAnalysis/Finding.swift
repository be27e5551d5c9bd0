import TraceSources

/// How serious a finding is. Ordered: `note` < `warning` < `error`.
public enum Severity: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case note = 0
    case warning = 1
    case error = 2

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `note`, `warning` or `error`, as in the JSON report.
    public var description: String {
        switch self {
        case .note: return "note"
        case .warning: return "warning"
        case .error: return "error"
        }
    }

    public init?(name: String) {
        guard let match = Severity.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = match
    }
}

/// Who a rule binds: the driver (guest), the device (QEMU's model of it), or neither
/// (problems of the trace file itself and QEMU implementation policy).
public enum Party: String, Sendable {
    case driver
    case device
    case input
    case qemuPolicy = "qemu-policy"
}

/// The static description of a rule: what `vqscope rules` lists and `docs/rules/` explains.
public struct RuleInfo: Sendable, Hashable {
    /// The rule ID from the spec-rule catalogue, e.g. `INIT-SEQUENCE`.
    public let id: String
    public let severity: Severity
    /// The VIRTIO 1.2 section, e.g. `3.1.1`.
    public let section: String
    /// The VIRTIO 1.1 section where its number differs, e.g. `2.6.8` for 1.2's `2.7.8`.
    public let section11: String?
    public let summary: String
    public let party: Party
    /// What in a trace shows the rule broken.
    public let evidence: String

    public init(
        id: String, severity: Severity, section: String, section11: String? = nil, summary: String, party: Party,
        evidence: String
    ) {
        self.id = id
        self.severity = severity
        self.section = section
        self.section11 = section11
        self.summary = summary
        self.party = party
        self.evidence = evidence
    }
}

/// Where a finding was observed.
public struct Location: Sendable, Hashable {
    public var file: String
    /// 1-based line in the trace.
    public var line: Int?
    /// Byte offset in the input, for problems of the input itself.
    public var offset: UInt64?
    public var timestamp: Timestamp?
    /// The device's label, e.g. `net@0x55bf776a0600`.
    public var device: String?
    public var queue: Int?

    public init(
        file: String, line: Int? = nil, offset: UInt64? = nil, timestamp: Timestamp? = nil, device: String? = nil,
        queue: Int? = nil
    ) {
        self.file = file
        self.line = line
        self.offset = offset
        self.timestamp = timestamp
        self.device = device
        self.queue = queue
    }
}

/// One observed violation (or note) of a rule.
public struct Finding: Sendable, Hashable {
    public var rule: RuleInfo
    /// The rule's severity, or the user's override of it.
    public var severity: Severity
    public var message: String
    public var location: Location

    public init(rule: RuleInfo, severity: Severity? = nil, message: String, location: Location) {
        self.rule = rule
        self.severity = severity ?? rule.severity
        self.message = message
        self.location = location
    }
}

/// Collects findings with bounded memory: the first `perKeyLimit` findings of each
/// (rule, device, queue) are kept in full, the rest are only counted.
public struct FindingSink: Sendable {
    public private(set) var kept: [Finding] = []
    /// Findings counted per rule ID, kept or not.
    public private(set) var countsByRule: [String: Int] = [:]
    public private(set) var total = 0
    public private(set) var dropped = 0
    public let perKeyLimit: Int
    public let totalLimit: Int
    private var perKey: [Key: Int] = [:]

    private struct Key: Hashable {
        var rule: String
        var device: String?
        var queue: Int?
    }

    public init(perKeyLimit: Int = 20, totalLimit: Int = 10_000) {
        self.perKeyLimit = perKeyLimit
        self.totalLimit = totalLimit
    }

    public mutating func add(_ finding: Finding) {
        self.total += 1
        self.countsByRule[finding.rule.id, default: 0] += 1
        let key = Key(rule: finding.rule.id, device: finding.location.device, queue: finding.location.queue)
        let seen = self.perKey[key, default: 0]
        if seen < self.perKeyLimit, self.kept.count < self.totalLimit {
            self.perKey[key] = seen + 1
            self.kept.append(finding)
        } else {
            self.dropped += 1
        }
    }
}
