import VirtioAnalysis

/// A ``Baseline`` as the JSON file `vqscope baseline` writes: schema `vqscope.baseline`
/// version 1 (`docs/ci.md`), entries sorted, so the same findings give the same file.
public enum BaselineReporter {
    public static let schema = "vqscope.baseline"
    public static let schemaVersion = 1

    public static func render(_ baseline: Baseline, input: String, toolVersion: String) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("schema", Self.schema)
        json.number("version", Self.schemaVersion)
        json.string("tool", "vqscope \(toolVersion)")
        json.string("input", input)
        json.beginArray("findings")
        for key in baseline.counts.keys.sorted() {
            json.beginObject()
            json.string("rule", key.rule)
            json.string("device", key.device)
            json.number("queue", key.queue)
            json.string("fingerprint", key.fingerprint)
            json.number("count", baseline.counts[key])
            json.string("example", baseline.examples[key])
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.output + "\n"
    }
}
