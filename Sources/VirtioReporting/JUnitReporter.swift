import VirtioAnalysis

/// Findings as JUnit XML, the report Jenkins and GitLab read: one test suite per run, one
/// test case per rule of the catalogue that raised nothing (passed), and one per rule and
/// device/queue that raised something. Findings at or above the `--fail-on` level are the
/// case's `<failure>` (message, location, spec section); lower ones go to its
/// `<system-out>` and the case passes.
public enum JUnitReporter {
    public static func render(_ findings: [Finding], input: String, failOn: Severity?) -> String {
        struct Group {
            var rule: RuleInfo
            var device: String?
            var queue: Int?
            var findings: [Finding] = []
        }
        var groups: [String: Group] = [:]
        var order: [String] = []
        for finding in findings {
            let key = "\(finding.rule.id)|\(finding.location.device ?? "")|\(finding.location.queue.map(String.init) ?? "")"
            if groups[key] == nil {
                groups[key] = Group(rule: finding.rule, device: finding.location.device, queue: finding.location.queue)
                order.append(key)
            }
            groups[key]?.findings.append(finding)
        }
        let raised = Set(findings.map(\.rule.id))
        let failing: (Finding) -> Bool = { finding in failOn.map { finding.severity >= $0 } ?? false }
        var cases: [String] = []
        var failures = 0
        for rule in RuleCatalog.all where !raised.contains(rule.id) {
            cases.append(#"    <testcase classname="vqscope.\#(rule.id)" name="\#(Self.escape(rule.id)): \#(Self.escape(rule.summary))" time="0"/>"#)
        }
        for key in order.sorted() {
            guard let group = groups[key] else { continue }
            let place = [group.device, group.queue.map { "queue \($0)" }].compactMap { $0 }.joined(separator: " ")
            let name = group.rule.id + (place.isEmpty ? "" : " [\(place)]")
            let lines = group.findings.map(Self.line).joined(separator: "\n")
            var body = ""
            if let worst = group.findings.filter(failing).map(\.severity).max() {
                failures += 1
                let first = group.findings.first(where: failing)?.message ?? ""
                body = #"      <failure message="\#(Self.escape(first))" type="\#(worst)">\#(Self.escape(lines))</failure>"#
            } else {
                body = "      <system-out>\(Self.escape(lines))</system-out>"
            }
            cases.append(
                #"    <testcase classname="vqscope.\#(group.rule.id)" name="\#(Self.escape(name))" time="0">"# + "\n" + body
                    + "\n    </testcase>")
        }
        let header = #"<?xml version="1.0" encoding="UTF-8"?>"#
        let suites = #"<testsuites name="vqscope" tests="\#(cases.count)" failures="\#(failures)" errors="0">"#
        let suite = #"  <testsuite name="vqscope \#(Self.escape(input))" tests="\#(cases.count)" failures="\#(failures)" errors="0" skipped="0" time="0">"#
        return ([header, suites, suite] + cases + ["  </testsuite>", "</testsuites>"]).joined(separator: "\n") + "\n"
    }

    /// `error INIT-SEQUENCE trace.log:131 [net@0x…]: message — §3.1.1`
    static func line(_ finding: Finding) -> String {
        let location = finding.location
        var place = location.file
        if let line = location.line { place += ":\(line)" } else if let offset = location.offset { place += " offset \(offset)" }
        let device = [location.device, location.queue.map { "queue \($0)" }].compactMap { $0 }.joined(separator: " ")
        let section = finding.rule.section == "n/a" ? "" : " — VIRTIO 1.2 §\(finding.rule.section)"
        return "\(finding.severity) \(finding.rule.id) \(place)\(device.isEmpty ? "" : " [\(device)]"): \(finding.message)\(section)"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                // XML 1.0 allows no other control characters, not even escaped.
                if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { out += "?" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
