import ArgumentParser
import Foundation
import Testing
import VirtioAnalysis
import VirtioReporting
import VirtioTestSupport

@testable import vqscope

/// CI gating in process: report formats, rule selection, severities, baselines, explain.
struct GatingTests {
    static let uboot = Fixtures.path("traces/real/uboot-arm64-mmio-legacy.log.xz")

    @Test("SARIF: every rule once, a result per finding with rule index, level, file and line")
    func sarif() throws {
        let result = Analyze.execute(trace: Self.uboot, format: .sarif, failOn: .error)
        #expect(result.code == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(object["version"] as? String == "2.1.0")
        let run = try #require((object["runs"] as? [[String: Any]])?.first)
        let rules = try #require(((run["tool"] as? [String: Any])?["driver"] as? [String: Any])?["rules"] as? [[String: Any]])
        #expect(rules.compactMap { $0["id"] as? String } == RuleCatalog.all.map(\.id))
        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["ruleId"] as? String }.sorted()
            == ["INIT-SEQUENCE", "INIT-SEQUENCE", "QEMU-LEGACY-FEATURES-SEL", "QEMU-LEGACY-FEATURES-SEL"])
        let error = try #require(results.first { $0["level"] as? String == "error" })
        let index = try #require(error["ruleIndex"] as? Int)
        #expect(rules[index]["id"] as? String == "INIT-SEQUENCE")
        let physical = try #require(((error["locations"] as? [[String: Any]])?.first)?["physicalLocation"] as? [String: Any])
        #expect((physical["region"] as? [String: Any])?["startLine"] as? Int == 131)
        #expect(((physical["artifactLocation"] as? [String: Any])?["uri"] as? String)?.hasSuffix("uboot-arm64-mmio-legacy.log.xz") == true)
    }

    @Test("JUnit: a passing case per quiet rule, a failing case per rule and device at or above --fail-on")
    func junit() throws {
        let failing = Analyze.execute(trace: Self.uboot, format: .junit, failOn: .error).output
        #expect(failing.contains(#"<testsuites name="vqscope" tests="\#(RuleCatalog.all.count + 1)" failures="2" errors="0">"#))
        #expect(failing.components(separatedBy: "<failure ").count - 1 == 2)
        #expect(failing.contains(#"name="INIT-SEQUENCE [net@0x5651a4c16190]""#))
        #expect(failing.contains("§3.1.1"))
        // Below --fail-on the findings are system-out, not failures.
        let never = Analyze.execute(trace: Self.uboot, format: .junit, failOn: .never).output
        #expect(never.contains(#"failures="0""#) && never.components(separatedBy: "<system-out>").count - 1 == 3)
    }

    @Test("--report writes every format in one run beside the text on standard output")
    func reports() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vqscope-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let destinations = ["junit", "sarif", "json", "text"].compactMap { ReportDestination(argument: "\($0)=\(directory)/r.\($0)") }
        let result = Analyze.execute(trace: Self.uboot, format: .text, failOn: .error, gating: Gating(reports: destinations))
        #expect(result.output.contains("Findings (4: 2 error"))
        for name in ["junit", "sarif", "json", "text"] {
            let text = try String(contentsOfFile: "\(directory)/r.\(name)", encoding: .utf8)
            #expect(!text.isEmpty)
        }
        #expect(ReportDestination(argument: "xml=out.xml") == nil && ReportDestination(argument: "junit=") == nil)
        let unwritable = Analyze.execute(
            trace: Self.uboot, format: .text, failOn: .error,
            gating: Gating(reports: [try #require(ReportDestination(argument: "junit=/nonexistent/x.xml"))]))
        #expect(unwritable.code == 66)
    }

    @Test("--disable, --enable after --disable all, and --severity change what is reported and the exit code")
    func selection() throws {
        var selection = RuleSelection()
        selection.disabled = ["INIT-SEQUENCE"]
        let disabled = Analyze.execute(trace: Self.uboot, format: .json, failOn: .error, gating: Gating(selection: selection))
        #expect(disabled.code == 0 && !disabled.output.contains(#""rule": "INIT-SEQUENCE""#))
        #expect(disabled.output.contains(#""findings": 2"#))
        var only = RuleSelection()
        only.disableAll = true
        only.enabled = ["INIT-SEQUENCE"]
        let enabled = Analyze.execute(trace: Self.uboot, format: .json, failOn: .error, gating: Gating(selection: only))
        #expect(enabled.code == 1 && !enabled.output.contains("QEMU-LEGACY-FEATURES-SEL"))
        var lowered = RuleSelection()
        lowered.severities = ["INIT-SEQUENCE": .warning]
        let warned = Analyze.execute(trace: Self.uboot, format: .json, failOn: .error, gating: Gating(selection: lowered))
        #expect(warned.code == 0 && warned.output.contains(#""severity": "warning""#))
        // Unknown IDs are usage errors.
        #expect(throws: (any Error).self) {
            var command = try VQScope.parseAsRoot(["analyze", Self.uboot, "--disable", "NO-SUCH-RULE"])
            try command.validate()
        }
    }

    @Test("a baseline suppresses exactly its findings, whatever the numbers in the trace; new ones still fail")
    func baseline() throws {
        let recorded = BaselineCommand.execute(trace: Self.uboot)
        #expect(recorded.code == 0)
        let file = TemporaryFile(text: recorded.output, name: "baseline.json")
        defer { file.remove() }
        let suppressed = Analyze.execute(trace: Self.uboot, format: .text, failOn: .note, gating: Gating(baselinePath: file.path))
        #expect(suppressed.code == 0 && suppressed.output.contains("Findings (0: 0 error, 0 warning, 0 note; 4 more suppressed by the baseline)"))
        // The same trace with other host pointers and line numbers: still suppressed.
        let xz = Process()
        xz.executableURL = URL(fileURLWithPath: "/usr/bin/xz")
        xz.arguments = ["-dc", Self.uboot]
        let pipe = Pipe()
        xz.standardOutput = pipe
        try xz.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        xz.waitUntilExit()
        let moved = TemporaryFile(
            text: "2026-01-01T00:00:00.000000Z unrelated line\n" + text.replacingOccurrences(of: "0x5651a4c", with: "0x7f00abc"),
            name: "moved.log")
        defer { moved.remove() }
        let again = Analyze.execute(trace: moved.path, format: .json, failOn: .error, gating: Gating(baselinePath: file.path))
        #expect(again.code == 0 && again.output.contains(#""suppressedByBaseline": 4"#))
        // A baseline of only the block device's finding leaves the net one, which fails.
        var partial = Baseline(findings: [], deviceTypes: [:])
        let key = Baseline.Key(rule: "INIT-SEQUENCE", device: "block", queue: nil, fingerprint: "c681a2b044ee105b")
        partial.counts[key] = 1
        let partialFile = TemporaryFile(text: BaselineReporter.render(partial, input: "x", toolVersion: "t"), name: "partial.json")
        defer { partialFile.remove() }
        let rest = Analyze.execute(trace: Self.uboot, format: .text, failOn: .error, gating: Gating(baselinePath: partialFile.path))
        #expect(rest.code == 1 && rest.output.contains("[net@0x5651a4c16190]") && !rest.output.contains("[block@"))
        // Not a baseline: 65; missing: 66.
        let bad = TemporaryFile(text: "{}", name: "bad.json")
        defer { bad.remove() }
        #expect(Analyze.execute(trace: Self.uboot, format: .text, failOn: .error, gating: Gating(baselinePath: bad.path)).code == 65)
        #expect(Analyze.execute(trace: Self.uboot, format: .text, failOn: .error, gating: Gating(baselinePath: "/nonexistent.json")).code == 66)
    }

    @Test("explain: the catalogue entry, then the rule's page from its first section", arguments: ["INIT-SEQUENCE", "PCAP-FRAME-SKIPPED"])
    func explain(rule: String) throws {
        let info = try #require(RuleCatalog.rule(id: rule))
        let page = try #require(Fixtures.text("docs/rules/\(rule).md"))
        let text = Explain.render(info, page: page)
        #expect(text.hasPrefix("\(rule) (\(info.severity))\n  \(info.summary)\n"))
        #expect(text.contains("\n## ") && !text.contains("| Severity |"))
        #expect(Explain.render(info, page: nil).contains("docs/rules/\(rule).md"))
    }
}
