import Foundation
import Testing

@testable import LiveCapture

/// Where the guest's RAM file goes (``RAMFile``), against a directory of the test's standing in
/// for /dev/shm.
struct RAMFileTests {
    static func directory() throws -> String {
        let directory = NSTemporaryDirectory() + "vqscope-shm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("in the shared directory, named after the recorder, where it has room for the guest's memory; else, or when it is not there, in the run directory")
    func path() throws {
        let shared = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: shared) }
        #expect(RAMFile.path(directory: "/run", memory: 1 << 20, shared: shared, process: 4242) == shared + "/vqscope-ram-4242")
        // No file system here has 2^63 bytes free.
        #expect(RAMFile.path(directory: "/run", memory: 1 << 63, shared: shared, process: 4242) == "/run/guest-ram")
        #expect(RAMFile.path(directory: "/run", memory: 1 << 20, shared: shared + "/missing", process: 4242) == "/run/guest-ram")
    }

    @Test("abandoned files removed: those of recorders that have exited; a running one's, and other files, kept")
    func removeAbandoned() throws {
        let shared = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: shared) }
        // A process that has exited and been reaped: its ID names no process now.
        let exited = try Recorder.spawn(["true"])
        var status: Int32 = 0
        #expect(waitpid(exited, &status, 0) == exited)
        let names = ["vqscope-ram-\(exited)", "vqscope-ram-\(getpid())", "vqscope-ram-x", "other-\(exited)"]
        for name in names { #expect(FileManager.default.createFile(atPath: shared + "/" + name, contents: Data([1]))) }
        RAMFile.removeAbandoned(in: shared)
        let left = try FileManager.default.contentsOfDirectory(atPath: shared).sorted()
        #expect(left == ["other-\(exited)", "vqscope-ram-\(getpid())", "vqscope-ram-x"])
    }
}
