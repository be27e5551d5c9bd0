import ArgumentParser
import Foundation
import Testing
import VirtioAnalysis
import VirtioTestSupport

@testable import vqscope

/// The command line as users and CI jobs see it: exit codes, formats and messages.
struct CLITests {
    static let linuxPCI = Fixtures.path("traces/real/linux-pci.log.xz")
    static let uboot = Fixtures.path("traces/real/uboot-arm64-mmio-legacy.log.xz")

    @Test("a real Linux trace is clean at --fail-on error: exit 0")
    func clean() {
        let result = Analyze.execute(trace: Self.linuxPCI, format: .text, failOn: .error)
        #expect(result.code == 0)
        #expect(result.output.contains("net@0x"))
        #expect(result.output.contains("Findings (1: 0 error, 1 warning, 0 note)"))
        #expect(!result.output.contains("\u{1B}["))
    }

    @Test("--fail-on decides the exit code", arguments: [
        (FailLevel.error, Int32(1)), (.warning, 1), (.note, 1), (.never, 0),
    ])
    func failOn(level: FailLevel, code: Int32) {
        #expect(Analyze.execute(trace: Self.uboot, format: .json, failOn: level).code == code)
    }

    @Test("a warning fails only at --fail-on warning or lower", arguments: [
        (FailLevel.error, Int32(0)), (.warning, 1), (.never, 0),
    ])
    func warningOnly(level: FailLevel, code: Int32) {
        #expect(Analyze.execute(trace: Self.linuxPCI, format: .text, failOn: level).code == code)
    }

    @Test("missing input: exit 66 with the path")
    func missing() {
        let result = Analyze.execute(trace: "/nonexistent/trace.log", format: .text, failOn: .error)
        #expect(result.code == 66)
        #expect(result.diagnostics == "vqscope: /nonexistent/trace.log: no such file")
        #expect(result.output.isEmpty)
    }

    @Test("undecodable input: exit 65 with a reason", arguments: [
        ("", "the file is empty"),
        ("total 48\ndrwxr-xr-x 2 root root 4096 bin\n", "none of its 2 lines is a QEMU virtio trace event"),
        ("kvm_exit reason 1\n", "none of its 1 lines is a QEMU virtio trace event"),
        ("\u{0}\u{1}binary", "binary data (NUL byte)"),
    ])
    func undecodable(content: String, reason: String) {
        let file = TemporaryFile(text: content)
        defer { file.remove() }
        let result = Analyze.execute(trace: file.path, format: .text, failOn: .error)
        #expect(result.code == 65)
        #expect(result.diagnostics.contains(reason), "\(result.diagnostics)")
    }

    @Test("usage errors exit 64", arguments: [
        ["analyze", "trace.log", "--qmp", "qmp.json"], ["analyze", "trace.log", "--base", "0x0"],
        ["analyze"], ["analyze", "x.log", "--fail-on", "fatal"], ["analyze", "x.log", "--format", "xml"],
        ["analyze", "x.log", "--device", "net"], ["analyze", "x.log", "--device", "0x12=nic"], ["analyze", "a.log", "b.log"],
        ["record", "-o", "run", "--pause-after", "50", "--", "qemu-system-x86_64", "-M", "q35"],
        ["record", "-o", "run", "--pause-after", "-1", "--", "qemu-system-x86_64", "-M", "q35"],
        ["record", "-o", "run", "--pause-after", "100001", "--", "qemu-system-x86_64", "-M", "q35"],
        ["record", "-o", "run", "--pause-after", "1ms", "--", "qemu-system-x86_64", "-M", "q35"],
        ["record", "-o", "run", "--", "qemu-system-x86_64", "-M", "q35", "-object", "memory-backend-ram,id=m,size=1G"],
        ["record", "-o", "run", "--", "qemu-system-x86_64", "-M", "q35", "-object", "sev-guest,id=s,cbitpos=47"],
        ["record", "-o", "run", "--", "qemu-system-x86_64", "-m", "1G"],
    ])
    func usage(arguments: [String]) {
        do {
            _ = try VQScope.parseAsRoot(arguments)
            Issue.record("parsed \(arguments)")
        } catch {
            #expect(VQScope.exitCode(for: error).rawValue == 64, "\(arguments)")
        }
    }

    @Test("--device sets a type the trace cannot show")
    func deviceOption() throws {
        let file = TemporaryFile(text: """
            100@1.000001:virtio_set_status vdev 0x1000 val 0
            100@1.000002:virtio_set_status vdev 0x1000 val 1

            """)
        defer { file.remove() }
        let command = try #require(try VQScope.parseAsRoot(["analyze", file.path, "--device", "0x1000=input"]) as? Analyze)
        let result = Analyze.execute(trace: file.path, format: .json, failOn: .error, devices: command.input.devices)
        #expect(result.output.contains("\"type\": \"input\""))
        #expect(result.output.contains("\"typeDecidedBy\": \"given with --device\""))
    }

    @Test("JSON output parses and carries the schema, devices and findings")
    func json() throws {
        let result = Analyze.execute(trace: Self.uboot, format: .json, failOn: .error)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "vqscope.report")
        #expect(object["schemaVersion"] as? Int == 1)
        let devices = try #require(object["devices"] as? [[String: Any]])
        #expect(Set(devices.compactMap { $0["type"] as? String }) == ["net", "block"])
        let findings = try #require(object["findings"] as? [[String: Any]])
        let errors = findings.filter { $0["severity"] as? String == "error" }
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0["rule"] as? String == "INIT-SEQUENCE" })
        let location = try #require(errors.first?["location"] as? [String: Any])
        #expect(location["line"] as? Int == 131)
        #expect((location["device"] as? String)?.hasPrefix("net@0x") == true)
        #expect((location["timestamp"] as? String)?.hasSuffix("Z") == true)
    }

    @Test("--dump: the dump's queues and a DUMP-TRACE-MISMATCH join the trace's report")
    func dump() throws {
        let folder = "traces/rules/DUMP-TRACE-MISMATCH"
        let fixture = try MemoryFixture(json: try #require(Fixtures.text("\(folder)/violates.handwritten.json")))
        let image = TemporaryFile(bytes: fixture.bytes, name: "mem.raw")
        defer { image.remove() }
        let trace = Fixtures.path("\(folder)/trace.handwritten.log")
        let result = Analyze.execute(
            trace: trace, format: .json, failOn: .warning, memory: MemoryInput(dump: image.path, base: 0, qmp: nil))
        #expect(result.code == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["rule"] as? String } == ["DUMP-TRACE-MISMATCH"])
        #expect(findings.first?["message"] as? String == "used ring slot 1 holds length 16, but the trace's fill there says 12")
        let memory = try #require(object["memory"] as? [String: Any])
        let queues = try #require(memory["queues"] as? [[String: Any]])
        #expect(queues.count == 1 && queues.first?["usedIdx"] as? Int == 2)
        #expect((memory["dump"] as? [String: Any])?["file"] as? String == image.path)
        // With QMP replies, QEMU's inuse must be the trace's requests in flight (here 0).
        let clean = try MemoryFixture(json: try #require(Fixtures.text("\(folder)/clean.handwritten.json")))
        let cleanImage = TemporaryFile(bytes: clean.bytes, name: "clean.raw")
        defer { cleanImage.remove() }
        func qmp(inuse: Int) -> TemporaryFile {
            TemporaryFile(
                text: #"{"return": {"name": "virtio-rng", "queue-index": 0, "vring-num": 128, "vring-desc": 4096, "#
                    + #""vring-avail": 8192, "vring-used": 12288, "used-idx": 2, "inuse": \#(inuse)}}"#, name: "qmp.json")
        }
        for inuse in [0, 1] {
            let replies = qmp(inuse: inuse)
            defer { replies.remove() }
            let joined = Analyze.execute(
                trace: trace, format: .json, failOn: .warning,
                memory: MemoryInput(dump: cleanImage.path, base: 0, qmp: replies.path))
            let report = try #require(try JSONSerialization.jsonObject(with: Data(joined.output.utf8)) as? [String: Any])
            let messages = (report["findings"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
            #expect(messages == (inuse == 0 ? [] : ["QMP's inuse is 1, but the trace ends with 0 requests in flight"]))
        }
        // A missing dump is missing input; a raw image without --base is undecodable.
        let missing = Analyze.execute(trace: trace, format: .text, failOn: .error, memory: MemoryInput(dump: "/nonexistent.elf"))
        #expect(missing.code == 66)
        let noBase = Analyze.execute(trace: trace, format: .text, failOn: .error, memory: MemoryInput(dump: image.path))
        #expect(noBase.code == 65)
    }

    @Test("the rules listing names every rule with its section")
    func rules() {
        let text = Rules.render(.text)
        #expect(text.contains("INIT-SEQUENCE "))
        #expect(text.contains("SPLIT-USED-ID-OWNED"))
        #expect(text.contains("2.6.8"))
        #expect(text.hasSuffix("\(RuleCatalog.all.count) rules; docs/rules/<RULE>.md explains each.\n"))
        #expect(RuleCatalog.all.count >= 45)
    }

    @Test("the built binary runs the README quick start and sets the exit code")
    func binary() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("vqscope").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            // `swift test` builds the executable next to the test bundle; report where it looked.
            Issue.record("vqscope binary not found at \(binary)")
            return
        }
        func run(_ arguments: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try run(["analyze", Self.linuxPCI]) == 0)
        #expect(try run([Self.uboot]) == 1)
        #expect(try run(["analyze", "/nonexistent"]) == 66)
        #expect(try run(["analyze", "--fail-on", "sometimes", Self.uboot]) == 64)
    }

    @Test("analyze RUN_DIR reports the recorder's own account (run.json) in text and JSON, and says when there is none")
    func recorderAccount() throws {
        let run = try RefilledRunFixture.directory(copied: [200])
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        try (#"{"schema": "vqscope.run", "version": 1, "qemu": {"version": "7.2.22"}, "exitStatus": 0, "#
            + #""samplerGaps": {"overMicroseconds": 100, "count": 32, "longestMicroseconds": 5873, "waitingMicroseconds": 433862, "#
            + #""lengths": [{"fromMicroseconds": 100, "count": 25}, {"fromMicroseconds": 200, "count": 4}, {"fromMicroseconds": 500, "count": 0}, "#
            + #"{"fromMicroseconds": 1000, "count": 3}], "#
            + #""stealMicroseconds": 20000}, "pauses": {"afterMicroseconds": 1000, "realTime": true, "count": 3, "cutShort": 0, "totalMicroseconds": 12500, "#
            + #""longestMicroseconds": 8250, "longestStallMicroseconds": 1500}, "#
            + #""traceClock": {"lines": 3468, "lagMinimumMicroseconds": 2, "lagMaximumMicroseconds": 1151}, "traceLinesDropped": 122661, "#
            + #""queues": [{"missed": 2, "late": 1}]}"#)
            .write(toFile: run.path + "/run.json", atomically: false, encoding: .utf8)
        let text = Analyze.execute(trace: run.path, format: .text, failOn: .error)
        // Each recorded queue with the trace's device it is joined with (the only network device on both sides).
        #expect(text.output.contains("\n  virtio-net@/n  net@0x55d0c0003000  0 "))
        let account: String =
            "Recorder (run.json): QEMU 7.2.22 exited with 0; 2 entries missed, 1 chains read only once completed; "
                + "the sampler began 32 rounds more than 100 µs after the one before (the longest gap 5.87 ms; "
                + "by length in µs: 25 of 100–200, 4 of 200–500, 0 of 500–1000, 3 of 1000 and over); "
                + "it waited 433.86 ms in all while other tasks had its processor; the hypervisor took 20.00 ms of that processor; "
                + "QEMU was paused 3 times while the sampler stalled over 1.00 ms (12.50 ms in all, the longest 8.25 ms, "
                + "the longest stall before one 1.50 ms; the guard that paused it ran under SCHED_FIFO); "
                + "the trace's 3,468 timestamped lines were read 2.0 µs–1.15 ms after their timestamps, on the recorder's clock; "
                + "122,661 trace lines of accesses to other memory regions were not kept\n"
        #expect(text.output.contains(account))
        // The fixture records one of the three frames its trace shows received, and not the transmitted one.
        #expect(text.output.contains("\nAgainst the trace: on 2 of 2 queues compared, the used elements recorded plus those counted as missed "
            + "differ from the trace's fills (RECORD-TRACE-MISMATCH; in all 1 recorded + 0 counted as missed, 4 fills in the trace)\n"))
        let json = Analyze.execute(trace: run.path, format: .json, failOn: .error)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let against = try #require((object["recording"] as? [String: Any])?["againstTrace"] as? [String: Int])
        #expect(against == ["queues": 2, "mismatched": 2, "usedEntries": 1, "missedCompletions": 0, "fills": 4, "notCompared": 0])
        let recorder = try #require((object["recording"] as? [String: Any])?["recorder"] as? [String: Any])
        #expect(recorder["missed"] as? Int == 2 && recorder["late"] as? Int == 1 && recorder["qemuVersion"] as? String == "7.2.22")
        let gaps = try #require(recorder["samplerGaps"] as? [String: Any])
        #expect(gaps["longestMicroseconds"] as? Int == 5873 && gaps["waitingMicroseconds"] as? Int == 433862 && gaps["stealMicroseconds"] as? Int == 20000)
        let lengths = try #require(gaps["lengths"] as? [[String: Int]])
        #expect(lengths.map { $0["fromMicroseconds"] } == [100, 200, 500, 1000] && lengths.map { $0["count"] } == [25, 4, 0, 3])
        let pauses = try #require(recorder["pauses"] as? [String: Any])
        #expect(pauses["count"] as? Int == 3 && pauses["cutShort"] as? Int == 0 && pauses["totalMicroseconds"] as? Int == 12500)
        #expect(pauses["afterMicroseconds"] as? Int == 1000 && pauses["longestStallMicroseconds"] as? Int == 1500)
        #expect(pauses["realTime"] as? Bool == true)
        let clock = try #require(recorder["traceClock"] as? [String: Any])
        #expect(clock["lines"] as? Int == 3468 && clock["lagMinimumMicroseconds"] as? Int == 2 && clock["lagMaximumMicroseconds"] as? Int == 1151)
        #expect(recorder["traceLinesDropped"] as? Int == 122_661)
        // A trace whose clock ran ahead of the recorder's; a hostile lag does not trap.
        for (least, told) in [(-2_500, "2.50 ms"), (Int.min, "")] {
            try (#"{"schema": "vqscope.run", "version": 1, "exitStatus": 0, "traceClock": {"lines": 3, "#
                + #""lagMinimumMicroseconds": \#(least), "lagMaximumMicroseconds": 40}, "queues": []}"#)
                .write(toFile: run.path + "/run.json", atomically: false, encoding: .utf8)
            let output = Analyze.execute(trace: run.path, format: .text, failOn: .error).output
            #expect(output.contains("a trace line was read \(told)") && output.contains("before its own timestamp: the trace's clock is not the recorder's"))
        }
        try FileManager.default.removeItem(atPath: run.path + "/run.json")
        #expect(Analyze.execute(trace: run.path, format: .text, failOn: .error).output.contains("Recorder: no readable run.json"))
    }

    @Test("pcap RUN_DIR: a frame copied while its buffer was offered again is exported where the run's trace shows the copy whole, not otherwise")
    func pcapRefilledFrames() throws {
        let run = try RefilledRunFixture.directory(copied: [200, 2100, 2500])
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let output = run.path + "/frames.pcap"
        let result = Pcap.execute(run: run.path, output: output, vnetHeader: nil)
        #expect(result.code == 0)
        #expect(result.output == "vqscope: 2 frame(s) to \(output): 0 transmitted, 2 received, recorded in \(run.path)\n")
        // Without the trace nothing shows a copy whole.
        try FileManager.default.removeItem(atPath: run.path + "/trace.log")
        #expect(Pcap.execute(run: run.path, output: output, vnetHeader: nil).output.hasPrefix("vqscope: 0 frame(s)"))
    }

    @Test("a recording cut off inside its last line (a recorder killed outright): that line not read, its number said by analyze (text and JSON) and pcap, the exit code unchanged; a bad line before the end still undecodable (65)")
    func cutOffRecording() throws {
        let run = try RefilledRunFixture.directory(copied: [200, 2100, 2500])
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let path = run.path + "/rings.jsonl"
        let whole = try String(contentsOfFile: path, encoding: .utf8)
        let count = whole.split(separator: "\n").count
        // Ended normally: nothing said, null in JSON.
        let ended = Analyze.execute(trace: run.path, format: .text, failOn: .error)
        #expect(ended.diagnostics.isEmpty && !ended.output.contains("ends inside"))
        let clean = Analyze.execute(trace: run.path, format: .json, failOn: .error)
        let cleanObject = try #require(try JSONSerialization.jsonObject(with: Data(clean.output.utf8)) as? [String: Any])
        #expect((cleanObject["recording"] as? [String: Any])?["cutOffLine"] is NSNull)
        try (whole + #"{"kind": "used", "t": 17000000"#).write(toFile: path, atomically: false, encoding: .utf8)
        let text = Analyze.execute(trace: run.path, format: .text, failOn: .error)
        // The fixture's findings decide the code, as without the cut-off line.
        #expect(text.code == ended.code && text.diagnostics.isEmpty)
        #expect(text.output.contains("The recording ends inside its line \(count + 1) (the recorder did not end normally): not read\n"))
        let json = Analyze.execute(trace: run.path, format: .json, failOn: .error)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect((object["recording"] as? [String: Any])?["cutOffLine"] as? Int == count + 1)
        let output = run.path + "/frames.pcap"
        let pcap = Pcap.execute(run: run.path, output: output, vnetHeader: nil)
        #expect(pcap.code == 0 && pcap.output.hasPrefix("vqscope: 2 frame(s)"))
        #expect(pcap.output.hasSuffix("vqscope: \(run.path)/rings.jsonl ends inside line \(count + 1) (the recorder did not end normally): not read\n"))
        // The same bytes with a newline after them are a line that is not a ring record.
        try (whole + #"{"kind": "used", "t": 17000000"# + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let broken = Analyze.execute(trace: run.path, format: .text, failOn: .error)
        #expect(broken.code == 65 && broken.diagnostics == "vqscope: \(path):\(count + 1): not a ring record")
    }
}

