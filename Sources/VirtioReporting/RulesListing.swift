import VirtioAnalysis

/// The rule catalogue as `vqscope rules` prints it.
public enum RulesListing {
    public static func text(_ rules: [RuleInfo]) -> String {
        var table = TextTable([
            ("RULE", .left), ("SEVERITY", .left), ("§1.2", .left), ("§1.1", .left), ("WHO", .left), ("CHECKS", .left),
        ])
        for rule in rules {
            table.add([
                rule.id, rule.severity.description, rule.section, rule.section11 ?? "=", rule.party.rawValue, rule.summary,
            ])
        }
        return table.render(indent: "") + "\n\(rules.count) rules; docs/rules/<RULE>.md explains each.\n"
    }

    public static func json(_ rules: [RuleInfo]) -> String {
        var json = JSONWriter()
        json.beginArray()
        for rule in rules {
            json.beginObject()
            json.string("rule", rule.id)
            json.string("severity", rule.severity.description)
            json.string("section", rule.section)
            json.string("section11", rule.section11)
            json.string("party", rule.party.rawValue)
            json.string("summary", rule.summary)
            json.string("evidence", rule.evidence)
            json.endObject()
        }
        json.endArray()
        return json.output + "\n"
    }

    /// The catalogue entry of one rule, for `vqscope explain`.
    public static func explanation(_ rule: RuleInfo) -> String {
        let section = rule.section == "n/a" ? "n/a" : "§\(rule.section)" + (rule.section11.map { " (VIRTIO 1.1: §\($0))" } ?? "")
        return """
            \(rule.id) (\(rule.severity))
              \(rule.summary)
              VIRTIO 1.2 section: \(section)
              who must obey:      \(rule.party.rawValue)
              evidence:           \(rule.evidence)

            """
    }
}
