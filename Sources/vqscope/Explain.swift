import ArgumentParser
import VirtioAnalysis
import VirtioReporting

#if canImport(Glibc)
import Glibc
#endif

/// `vqscope explain RULE`: the rule's catalogue entry, and its page from `docs/rules/`
/// (what the spec says, what vqscope checks, an example, how to fix a driver that hits it).
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a rule: its statement, spec section, evidence, an example and how to fix it.",
        discussion: """
            The page is read from docs/rules/RULE.md: in $VQSCOPE_DOCS if set, else in the \
            source tree the binary was built in (.build/…/vqscope), else in \
            ../share/doc/vqscope/rules beside the binary's directory.
            """
    )

    @Argument(help: "A rule ID, e.g. INIT-SEQUENCE (`vqscope rules` lists them).")
    var rule: String

    func validate() throws {
        guard RuleCatalog.rule(id: self.rule.uppercased()) != nil else {
            throw ValidationError("unknown rule \(self.rule) (`vqscope rules` lists them)")
        }
    }

    func run() throws {
        guard let rule = RuleCatalog.rule(id: self.rule.uppercased()) else { throw ExitCode(Exit.usage) }
        print(Self.render(rule, page: Self.page(for: rule.id)), terminator: "")
    }

    static func render(_ rule: RuleInfo, page: String?) -> String {
        var out = RulesListing.explanation(rule)
        if let page {
            // The page's title and table repeat the catalogue entry: from its first section on.
            let lines = page.split(separator: "\n", omittingEmptySubsequences: false)
            let start = lines.firstIndex { $0.hasPrefix("## ") } ?? lines.startIndex
            out += "\n" + lines[start...].joined(separator: "\n")
            if !out.hasSuffix("\n") { out += "\n" }
        } else {
            out += "\nThe rule's page, with an example and how to fix a driver that hits it, is docs/rules/\(rule.id).md "
                + "in vqscope's sources (set VQSCOPE_DOCS to the docs directory to show it here).\n"
        }
        return out
    }

    /// The rule's page, from the first place of ``configuration``'s discussion that has it.
    static func page(for id: String) -> String? {
        var directories: [String] = []
        if let docs = getenv("VQSCOPE_DOCS") { directories.append(String(cString: docs) + "/rules") }
        if let executable = realpath("/proc/self/exe", nil) {
            let path = String(cString: executable)
            free(executable)
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            // <root>/.build/<triple>/<configuration>/vqscope, and <prefix>/bin/vqscope.
            if parts.count > 4 { directories.append(parts.dropLast(4).joined(separator: "/") + "/docs/rules") }
            if parts.count > 2 { directories.append(parts.dropLast(2).joined(separator: "/") + "/share/doc/vqscope/rules") }
        }
        for directory in directories {
            guard let file = fopen(directory + "/" + id + ".md", "r") else { continue }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while bytes.count < 1 << 20 {
                let count = fread(&buffer, 1, buffer.count, file)
                if count <= 0 { break }
                bytes += buffer[..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return nil
    }
}
