import TraceSources
import VirtioAnalysis

#if canImport(Glibc)
import Glibc
#endif

/// Where the repository's fixtures are, found from this file's path (SwiftPM does not
/// bundle `traces/`, which lives outside every target).
public enum Fixtures {
    /// The repository root.
    public static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/VirtioTestSupport/Fixtures.swift
        return parts.joined(separator: "/")
    }()

    /// An absolute path for a path relative to the repository root (absolute paths pass through).
    public static func path(_ relative: String) -> String { relative.hasPrefix("/") ? relative : Self.root + "/" + relative }

    /// The directory of real captures under test: `traces/real`, or `VQSCOPE_REAL_TRACES` when the
    /// test script has just re-captured them from Debian's packages.
    public static var realTraces: String {
        if let directory = getenv("VQSCOPE_REAL_TRACES"), directory.pointee != 0 { return String(cString: directory) }
        return Self.path("traces/real")
    }

    /// Reads a whole text file (fixtures are small).
    public static func text(_ relative: String) -> String? {
        guard let file = fopen(Self.path(relative), "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let got = fread(&chunk, 1, chunk.count, file)
            if got <= 0 { break }
            bytes += chunk[0..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Names in a directory relative to the root (no `.` entries), sorted.
    public static func list(_ relative: String) -> [String] {
        guard let directory = opendir(Self.path(relative)) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}

/// A file in a fresh temporary directory, removed by `remove()`.
public struct TemporaryFile {
    public let path: String

    /// Writes `bytes` to a new temporary file.
    public init(bytes: [UInt8], name: String = "trace.log") {
        var template = Array("/tmp/vqscope-test.XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        self.path = directory + "/" + name
        let file = fopen(self.path, "w")!
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }

    public init(text: String, name: String = "trace.log") { self.init(bytes: Array(text.utf8), name: name) }

    public func remove() {
        unlink(self.path)
        rmdir(String(self.path[..<self.path.lastIndex(of: "/")!]))
    }
}

/// Runs the whole read-and-analyze loop on a file, as the CLI does.
public func analyze(
    _ path: String, options: AnalysisOptions = AnalysisOptions(), chunkSize: Int = 1 << 20
) throws(InputError) -> AnalysisReport {
    var reader = try TraceReader(path: path, chunkSize: chunkSize)
    var analyzer = Analyzer(file: path, options: options)
    while let item = try reader.next() { analyzer.consume(item) }
    return analyzer.finish(statistics: reader.statistics)
}

/// A trace line of QEMU's log backend with `-msg timestamp=on`, thread 100, at `microseconds`
/// (below a second) past 1700000000 s.
public func traceLine(_ microseconds: Int, _ event: String) -> String {
    "100@1700000000.\(String(String(1_000_000 + microseconds).dropFirst())):\(event)"
}

/// Analyzes trace text given inline.
public func analyze(text: String, options: AnalysisOptions = AnalysisOptions()) throws -> AnalysisReport {
    let file = TemporaryFile(text: text)
    defer { file.remove() }
    return try analyze(file.path, options: options)
}

extension AnalysisReport {
    /// Lines of the kept findings of one rule, in order.
    public func lines(of rule: String) -> [Int] {
        self.findings.filter { $0.rule.id == rule }.compactMap(\.location.line).sorted()
    }
}
