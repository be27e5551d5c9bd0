import Foundation
import Testing

@testable import LiveCapture

/// How the recorder starts QEMU (``Recorder/spawn(_:)``): the program looked up as execvp(3)
/// would, then started through setpriv(1) for its parent-death signal. That a killed recorder
/// takes QEMU with it is `.ci/test`'s (traces/capture/record-signals.sh, with QEMU).
struct RecorderSpawnTests {
    @Test("the program: a path taken as it is, a name looked up in PATH's directories in order; a file that is not executable, a directory and a missing name are none")
    func executable() throws {
        let directory = NSTemporaryDirectory() + "vqscope-spawn-\(UUID().uuidString)"
        let second = directory + "/second"
        try FileManager.default.createDirectory(atPath: second + "/folder", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (path, mode) in [(directory + "/tool", 0o755), (directory + "/plain", 0o644), (second + "/tool", 0o755), (second + "/plain", 0o755)] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: mode]))
        }
        let path = "/nonexistent:\(directory):\(second)"
        #expect(Recorder.executable("tool", path: path) == directory + "/tool")
        // Not executable in the first directory: the second's.
        #expect(Recorder.executable("plain", path: path) == second + "/plain")
        #expect(Recorder.executable("folder", path: path) == nil)
        #expect(Recorder.executable("missing", path: path) == nil)
        #expect(Recorder.executable("", path: path) == nil)
        #expect(Recorder.executable(directory + "/tool", path: "/nonexistent") == directory + "/tool")
        #expect(Recorder.executable(directory + "/plain", path: path) == nil)
        #expect(Recorder.executable(second + "/folder", path: path) == nil)
    }

    @Test("a program that is not there: cannot start, naming it; one that is runs with the arguments given, itself and not setpriv")
    func spawn() throws {
        #expect(throws: RecordError.cannotStart("qemu-system-none: no such executable on the PATH")) {
            _ = try Recorder.spawn(["qemu-system-none", "-M", "q35"])
        }
        #expect(throws: RecordError.cannotStart("/nonexistent/qemu-system-x86_64: no such executable")) {
            _ = try Recorder.spawn(["/nonexistent/qemu-system-x86_64"])
        }
        let sleep = try #require(Recorder.executable("sleep"))
        let pid = try Recorder.spawn(["sleep", "30"])
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // setpriv, where it is installed, runs first and then becomes the program.
        var command: [String] = []
        for _ in 0..<500 {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            command = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if command.first == sleep { break }
            usleep(10_000)
        }
        #expect(command == [sleep, "30"])
    }
}
