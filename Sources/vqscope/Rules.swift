import ArgumentParser
import VirtioAnalysis
import VirtioReporting

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List every rule: ID, severity, spec section and what it checks.")

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws { print(Self.render(self.format), terminator: "") }

    static func render(_ format: OutputFormat) -> String {
        switch format {
        case .json:
            return RulesListing.json(RuleCatalog.all)
        case .text:
            return RulesListing.text(RuleCatalog.all)
        }
    }
}
