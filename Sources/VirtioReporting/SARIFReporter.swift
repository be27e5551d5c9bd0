import VirtioAnalysis

/// Findings as SARIF 2.1.0 (what GitHub code scanning and other CI viewers read): the tool's
/// rules with their IDs, summaries, spec sections and help, and one result per finding
/// located at the trace (or dump) file and line, with the device and queue as a logical
/// location.
public enum SARIFReporter {
    /// The VIRTIO 1.2 specification, which every rule's section refers to.
    public static let specification = "https://docs.oasis-open.org/virtio/virtio/v1.2/virtio-v1.2.html"

    public static func render(_ findings: [Finding], toolVersion: String) -> String {
        let rules = RuleCatalog.all
        let index = Dictionary(uniqueKeysWithValues: rules.enumerated().map { ($1.id, $0) })
        var json = JSONWriter()
        json.beginObject()
        json.string("$schema", "https://json.schemastore.org/sarif-2.1.0.json")
        json.string("version", "2.1.0")
        json.beginArray("runs")
        json.beginObject()
        json.beginObject("tool")
        json.beginObject("driver")
        json.string("name", "vqscope")
        json.string("version", toolVersion)
        json.beginArray("rules")
        for rule in rules {
            json.beginObject()
            json.string("id", rule.id)
            json.beginObject("shortDescription")
            json.string("text", rule.summary)
            json.endObject()
            json.beginObject("fullDescription")
            json.string("text", Self.statement(rule))
            json.endObject()
            json.string("helpUri", Self.specification)
            json.beginObject("help")
            json.string(
                "text",
                "\(Self.statement(rule)) Evidence: \(rule.evidence). The rule's page, with an example and how to fix a "
                    + "driver that hits it: docs/rules/\(rule.id).md (or `vqscope explain \(rule.id)`).")
            json.endObject()
            json.beginObject("defaultConfiguration")
            json.string("level", Self.level(rule.severity))
            json.endObject()
            json.beginObject("properties")
            json.string("section", rule.section)
            json.string("section11", rule.section11)
            json.string("party", rule.party.rawValue)
            json.endObject()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.endObject()
        json.beginArray("results")
        for finding in findings {
            json.beginObject()
            json.string("ruleId", finding.rule.id)
            json.number("ruleIndex", index[finding.rule.id])
            json.string("level", Self.level(finding.severity))
            json.beginObject("message")
            json.string("text", finding.message)
            json.endObject()
            json.beginArray("locations")
            json.beginObject()
            json.beginObject("physicalLocation")
            json.beginObject("artifactLocation")
            json.string("uri", Self.uri(finding.location.file))
            json.endObject()
            if let line = finding.location.line, line > 0 {
                json.beginObject("region")
                json.number("startLine", line)
                json.endObject()
            } else if let offset = finding.location.offset {
                json.beginObject("region")
                json.number("byteOffset", offset)
                json.endObject()
            }
            json.endObject()
            let place = [finding.location.device, finding.location.queue.map { "queue \($0)" }].compactMap { $0 }
            if !place.isEmpty {
                json.beginArray("logicalLocations")
                json.beginObject()
                json.string("fullyQualifiedName", place.joined(separator: " "))
                json.string("kind", "object")
                json.endObject()
                json.endArray()
            }
            json.endObject()
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.endArray()
        json.endObject()
        return json.output + "\n"
    }

    /// `note`, `warning` or `error`: SARIF's levels have the same names.
    static func level(_ severity: Severity) -> String { severity.description }

    static func statement(_ rule: RuleInfo) -> String {
        let section = rule.section == "n/a" ? "" : " (VIRTIO 1.2 §\(rule.section)\(rule.section11.map { ", 1.1 §\($0)" } ?? ""))"
        return "\(rule.summary.prefix(1).uppercased() + rule.summary.dropFirst())\(section)."
    }

    /// A relative path as it is (SARIF resolves it against the run's directory); `-` and
    /// absolute paths made into URIs, with characters URIs do not allow escaped.
    static func uri(_ path: String) -> String {
        let text = path == "-" ? "stdin" : path
        var out = text.hasPrefix("/") ? "file://" : ""
        for byte in text.utf8 {
            let allowed =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "/-._~".utf8.contains(byte)
            if allowed {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }
}
