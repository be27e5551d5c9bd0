/// A minimal streaming JSON writer with stable key order (the order of the calls), so the
/// same input always gives byte-identical output. Indented, or on one line (`compact`, for
/// JSON Lines). It writes UTF-8 bytes, made a `String` once at the end (``output``).
public struct JSONWriter {
    private var bytes: [UInt8] = []
    private var needsComma: [Bool] = [false]
    private let compact: Bool

    init(compact: Bool = false) {
        self.compact = compact
        self.bytes.reserveCapacity(1 << 16)
    }

    /// The JSON written so far.
    var output: String { String(decoding: self.bytes, as: UTF8.self) }

    private var depth: Int { self.needsComma.count - 1 }

    private mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { self.bytes.append(contentsOf: $0) }
    }

    /// A line break and two spaces for each level of the current depth.
    private mutating func newLine() {
        self.bytes.append(UInt8(ascii: "\n"))
        self.bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * self.depth))
    }

    private mutating func separator() {
        if self.needsComma[self.needsComma.count - 1] {
            self.bytes.append(UInt8(ascii: ","))
            if self.compact { self.bytes.append(UInt8(ascii: " ")) }
        }
        if self.depth > 0, !self.compact { self.newLine() }
        self.needsComma[self.needsComma.count - 1] = true
    }

    private mutating func key(_ name: String?) {
        self.separator()
        if let name {
            self.writeQuoted(name)
            self.bytes.append(UInt8(ascii: ":"))
            self.bytes.append(UInt8(ascii: " "))
        }
    }

    mutating func beginObject(_ name: String? = nil) {
        self.key(name)
        self.bytes.append(UInt8(ascii: "{"))
        self.needsComma.append(false)
    }

    mutating func endObject() { self.close(UInt8(ascii: "}")) }

    mutating func beginArray(_ name: String? = nil) {
        self.key(name)
        self.bytes.append(UInt8(ascii: "["))
        self.needsComma.append(false)
    }

    mutating func endArray() { self.close(UInt8(ascii: "]")) }

    private mutating func close(_ bracket: UInt8) {
        let hadItems = self.needsComma.removeLast()
        if hadItems, !self.compact { self.newLine() }
        self.bytes.append(bracket)
    }

    mutating func string(_ name: String?, _ value: String?) {
        self.key(name)
        if let value { self.writeQuoted(value) } else { self.write("null") }
    }

    mutating func number<T: BinaryInteger>(_ name: String?, _ value: T?) {
        self.key(name)
        guard let value else { return self.write("null") }
        self.write(String(value))
    }

    mutating func double(_ name: String?, _ value: Double?) {
        self.key(name)
        guard let value, value.isFinite else { return self.write("null") }
        self.write(Format.fixed(value, 1))
    }

    mutating func bool(_ name: String?, _ value: Bool) {
        self.key(name)
        self.write(value ? "true" : "false")
    }

    /// `text` as a JSON string literal: its bytes copied whole when nothing needs escaping.
    private mutating func writeQuoted(_ text: String) {
        var text = text
        let plain = text.withUTF8 { utf8 -> Bool in
            guard !utf8.contains(where: Self.needsEscape) else { return false }
            self.bytes.append(UInt8(ascii: "\""))
            self.bytes.append(contentsOf: utf8)
            self.bytes.append(UInt8(ascii: "\""))
            return true
        }
        if !plain { self.write(Self.quoted(text)) }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped.
    public static func quoted(_ text: String) -> String {
        // Most text (names, messages) needs no escape: copied whole.
        if !text.utf8.contains(where: Self.needsEscape) {
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
