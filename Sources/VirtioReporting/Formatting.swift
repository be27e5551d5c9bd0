import TraceSources
import VirtioAnalysis
import VirtioModel

/// Small shared formatting helpers for the reporters.
enum Format {
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// `2026-11-26T10:00:00.123456Z` for a wall-clock timestamp.
    static func iso8601(_ time: Timestamp) -> String {
        let nanos = time.nanoseconds
        var seconds = nanos / 1_000_000_000
        var fraction = nanos % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Self.civil(fromDays: days)
        let micros = fraction / 1_000
        return "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T"
            + "\(Self.pad(secondOfDay / 3_600, 2)):\(Self.pad(secondOfDay % 3_600 / 60, 2)):\(Self.pad(secondOfDay % 60, 2))"
            + ".\(Self.pad(micros, 6))Z"
    }

    /// Civil date of a day count since 1970-01-01 (H. Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// A duration for people: `850 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`.
    static func duration(_ nanoseconds: Int64) -> String {
        let value = Double(nanoseconds)
        if nanoseconds < 1_000 { return "\(nanoseconds) ns" }
        if nanoseconds < 1_000_000 { return Self.fixed(value / 1_000, 1) + " µs" }
        if nanoseconds < 1_000_000_000 { return Self.fixed(value / 1_000_000, 2) + " ms" }
        return Self.fixed(value / 1_000_000_000, 2) + " s"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 {
            text += "." + String(repeating: "0", count: digits)
        }
        return text
    }

    /// `1,234,567`.
    static func grouped<T: BinaryInteger>(_ value: T) -> String {
        let digits = String(value)
        var result = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0, character != "-" { result.append(",") }
            result.append(character)
        }
        return String(result.reversed())
    }

    /// The key a latency stage has in JSON.
    static func stageKey(_ stage: String) -> String {
        switch stage {
        case "kick→pop": return "kickToPop"
        case "pop→fill": return "popToFill"
        case "fill→flush": return "fillToFlush"
        case "flush→interrupt": return "flushToInterrupt"
        default: return stage
        }
    }
}
