import Testing
import TraceSources
import VirtioAnalysis
import VirtioTestSupport

struct CatalogueTests {
    @Test("rule IDs are unique and in the catalogue's style")
    func identifiers() {
        let ids = RuleCatalog.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "-" || $0 == "_" }, "\(id)")
            #expect(id.contains("-"), "\(id)")
        }
    }

    @Test("every rule has a documentation page that names its ID and section", arguments: RuleCatalog.all.map(\.id))
    func documented(id: String) throws {
        let rule = try #require(RuleCatalog.rule(id: id))
        let page = try #require(Fixtures.text("docs/rules/\(rule.id).md"), "docs/rules/\(rule.id).md is missing")
        #expect(page.hasPrefix("# \(rule.id)"))
        if rule.section != "n/a" { #expect(page.contains(rule.section), "\(rule.id): section \(rule.section)") }
    }

    @Test("the rules index lists every rule")
    func index() throws {
        let index = try #require(Fixtures.text("docs/rules/README.md"))
        for rule in RuleCatalog.all { #expect(index.contains(rule.id), "\(rule.id)") }
    }

    @Test("the rules the index lists as not checked are none of the rules vqscope checks")
    func notChecked() throws {
        let index = try #require(Fixtures.text("docs/rules/README.md"))
        let heading = "## Catalogue rules not checked"
        let lines = index.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == heading })
        // The first cell of each table row after the heading, the header rows left out.
        let listed = lines[start...].compactMap { line -> String? in
            guard line.hasPrefix("| "), let cell = line.dropFirst(2).split(separator: " ").first else { return nil }
            let id = String(cell)
            return id.contains("-") && id.uppercased() == id ? id : nil
        }
        #expect(listed.count == 35)
        for id in listed { #expect(RuleCatalog.rule(id: id) == nil, "\(id) is checked") }
    }

    @Test("every QEMU message maps to a catalogued rule", arguments: QEMUMessage.allCases)
    func messageMapping(message: QEMUMessage) throws {
        let report = try analyze(text: "2026-01-02T03:04:05.000001Z qemu-system-x86_64: prefix \(message.pattern) suffix\n")
        #expect(report.findings.count == 1)
        let finding = try #require(report.findings.first)
        #expect(RuleCatalog.rule(id: finding.rule.id) != nil)
        #expect(finding.location.line == 1)
    }
}
