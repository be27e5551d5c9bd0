/// Findings accepted as they are: `vqscope baseline` records a report's findings, and
/// `--baseline FILE` then reports only the new ones and counts the rest as suppressed.
///
/// A finding is keyed by its rule, its device's type (or its label with the numbers taken
/// out, where the type is unknown), its queue and a fingerprint of its message with every
/// number taken out: host pointers, line numbers, timestamps and counts change from one
/// capture of the same run to the next, what a finding says about the driver does not.
public struct Baseline: Sendable, Equatable {
    public struct Key: Sendable, Hashable, Comparable {
        public var rule: String
        public var device: String?
        public var queue: Int?
        /// 16 hex digits: FNV-1a of the message with its numbers replaced by `#`.
        public var fingerprint: String

        public init(rule: String, device: String?, queue: Int?, fingerprint: String) {
            self.rule = rule
            self.device = device
            self.queue = queue
            self.fingerprint = fingerprint
        }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.rule, lhs.device ?? "", lhs.queue ?? -1, lhs.fingerprint) < (rhs.rule, rhs.device ?? "", rhs.queue ?? -1, rhs.fingerprint)
        }
    }

    /// How many findings of each key are accepted.
    public var counts: [Key: Int]
    /// A message of each key, for people reading the file.
    public var examples: [Key: String]

    public init(counts: [Key: Int] = [:], examples: [Key: String] = [:]) {
        self.counts = counts
        self.examples = examples
    }

    /// The baseline of a report: every finding it kept. `deviceTypes` names the type of each
    /// device label the findings use, where known.
    public init(findings: [Finding], deviceTypes: [String: String]) {
        self.init()
        for finding in findings {
            let key = Self.key(of: finding, deviceTypes: deviceTypes)
            self.counts[key, default: 0] += 1
            if self.examples[key] == nil { self.examples[key] = finding.message }
        }
    }

    public static func key(of finding: Finding, deviceTypes: [String: String]) -> Key {
        let device = finding.location.device.map { deviceTypes[$0] ?? Self.withoutNumbers($0) }
        return Key(
            rule: finding.rule.id, device: device, queue: finding.location.queue,
            fingerprint: Self.fnv1a(Self.withoutNumbers(finding.message)))
    }

    /// The report without the findings the baseline accepts (at most its count of each key);
    /// returns how many were suppressed. Findings only counted (past the per-rule limit) are
    /// not matched and stay counted.
    public func apply<Report: FindingSet>(to report: inout Report, deviceTypes: [String: String]) -> Int {
        var left = self.counts
        var suppressedByRule: [String: Int] = [:]
        let suppressed = report.refine(dropping: []) { finding in
            let key = Self.key(of: finding, deviceTypes: deviceTypes)
            guard let remaining = left[key], remaining > 0 else { return finding }
            left[key] = remaining - 1
            suppressedByRule[finding.rule.id, default: 0] += 1
            return nil
        }
        for (rule, count) in suppressedByRule {
            report.findingCounts[rule, default: 0] -= count
            if report.findingCounts[rule] == 0 { report.findingCounts[rule] = nil }
            report.totalFindings -= count
        }
        report.omittedFindings = max(0, report.totalFindings - report.findings.count)
        report.suppressedByBaseline += suppressed
        return suppressed
    }

    /// Every run of digits (decimal or hexadecimal after `0x`) replaced by `#`.
    static func withoutNumbers(_ text: String) -> String {
        var out = ""
        var scalars = Array(text.unicodeScalars)[...]
        while let scalar = scalars.first {
            if scalar == "0", scalars.dropFirst().first == "x" {
                scalars = scalars.dropFirst(2).drop { $0.properties.isASCIIHexDigit }
                out += "#"
            } else if ("0"..."9").contains(scalar) {
                scalars = scalars.drop { ("0"..."9").contains($0) }
                out += "#"
            } else {
                out.unicodeScalars.append(scalar)
                scalars = scalars.dropFirst()
            }
        }
        return out
    }

    static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
