/// A minimal streaming JSON writer with stable key order (the order of the calls), so the
/// same input always gives byte-identical output. Indented, or on one line (`compact`, for
/// JSON Lines).
public struct JSONWriter {
    private(set) var output = ""
    private var needsComma: [Bool] = [false]
    private let indentUnit = "  "
    private let compact: Bool

    init(compact: Bool = false) { self.compact = compact }

    private var depth: Int { self.needsComma.count - 1 }

    /// A line break and the indentation of the current depth.
    private mutating func newLine() {
        self.output += "\n"
        for _ in 0..<self.depth { self.output += self.indentUnit }
    }

    private mutating func separator() {
        if self.needsComma[self.needsComma.count - 1] { self.output += self.compact ? ", " : "," }
        if self.depth > 0, !self.compact { self.newLine() }
        self.needsComma[self.needsComma.count - 1] = true
    }

    private mutating func key(_ name: String?) {
        self.separator()
        if let name { self.output += Self.quoted(name) + ": " }
    }

    mutating func beginObject(_ name: String? = nil) {
        self.key(name)
        self.output += "{"
        self.needsComma.append(false)
    }

    mutating func endObject() { self.close("}") }

    mutating func beginArray(_ name: String? = nil) {
        self.key(name)
        self.output += "["
        self.needsComma.append(false)
    }

    mutating func endArray() { self.close("]") }

    private mutating func close(_ bracket: String) {
        let hadItems = self.needsComma.removeLast()
        if hadItems, !self.compact { self.newLine() }
        self.output += bracket
    }

    mutating func string(_ name: String?, _ value: String?) {
        self.key(name)
        self.output += value.map(Self.quoted) ?? "null"
    }

    mutating func number<T: BinaryInteger>(_ name: String?, _ value: T?) {
        self.key(name)
        self.output += value.map { String($0) } ?? "null"
    }

    mutating func double(_ name: String?, _ value: Double?) {
        self.key(name)
        guard let value, value.isFinite else {
            self.output += "null"
            return
        }
        self.output += Format.fixed(value, 1)
    }

    mutating func bool(_ name: String?, _ value: Bool) {
        self.key(name)
        self.output += value ? "true" : "false"
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped.
    public static func quoted(_ text: String) -> String {
        // Most text (names, messages) needs no escape: copied whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
