#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's entry point: the target named by `VQSCOPE_FUZZ_TARGET` (trace, dump, rings or recording).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzEntry.target.run(UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count))
    return 0
}

/// A line on standard error.
func complain(_ message: String) {
    _ = (message + "\n").withCString { write(2, $0, strlen($0)) }
}

enum FuzzEntry {
    static let target: FuzzTarget = {
        let name = getenv("VQSCOPE_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            complain("vqscope-fuzz: set VQSCOPE_FUZZ_TARGET to trace, dump, rings or recording")
            exit(64)
        }
        return target
    }()
}

#if FUZZING
/// libFuzzer's driver (in the -sanitize=fuzzer runtime), run from this program's own `main`
/// as SwiftPM links executables.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { fuzzOneInput($0, $1) })
    }
}
#else
/// Built without the fuzzer: replays inputs, `vqscope-fuzz TARGET FILE…` (the crash
/// reproducers in traces/adversarial/fuzz/, say), so a finding can be rerun in a debugger.
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            complain("usage: vqscope-fuzz trace|dump|rings|recording FILE...")
            exit(64)
        }
        for path in arguments.dropFirst() {
            guard let file = fopen(path, "r") else {
                complain("vqscope-fuzz: \(path): cannot open")
                exit(66)
            }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = fread(&buffer, 1, buffer.count, file)
                if count <= 0 { break }
                bytes += buffer[..<count]
            }
            fclose(file)
            bytes.withUnsafeBytes { target.run($0) }
            print("\(path): ok")
        }
    }
}
#endif
