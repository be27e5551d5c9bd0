import ArgumentParser
import Foundation
import GuestMemory
import LiveCapture
import Testing
import VirtioAnalysis
import VirtioTestSupport

@testable import vqscope

/// `vqscope record`'s command-line handling and the reading of a recording, without QEMU
/// (the real recording is `.ci/test`'s: traces/capture/record-linux.sh and check_record.py).
struct RecordTests {
    @Test("the QEMU command line: machine, memory and layout read; what conflicts refused")
    func command() throws {
        let q35 = try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-m", "256M", "-accel", "tcg"])
        #expect(q35.machine == .q35 && q35.memory == 256 << 20)
        #expect(q35.ramRegions == [.init(guestAddress: 0, length: 256 << 20, fileOffset: 0)])
        let big = try QEMUCommand(arguments: ["qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "size=4G"])
        #expect(big.ramRegions == [
            .init(guestAddress: 0, length: 0x8000_0000, fileOffset: 0),
            .init(guestAddress: 1 << 32, length: 0x8000_0000, fileOffset: 0x8000_0000),
        ])
        let arm = try QEMUCommand(arguments: ["qemu-system-aarch64", "-M", "virt", "-m", "512"])
        #expect(arm.ramRegions == [.init(guestAddress: 0x4000_0000, length: 512 << 20, fileOffset: 0)])
        let recorded = q35.recordingArguments(ramFile: "/r/ram", qmpSocket: "/r/q", eventsFile: "/r/e")
        #expect(recorded.starts(with: q35.arguments))
        #expect(recorded.contains("memory-backend-file,id=vqscope-ram,size=268435456,mem-path=/r/ram,share=on"))
        #expect(recorded.contains("memory-backend=vqscope-ram") && recorded.contains("unix:/r/q,server=on,wait=off"))
        // A comma in a path is doubled where QEMU reads a key=value list.
        let commas = q35.recordingArguments(ramFile: "/a,b/ram", qmpSocket: "/a,b/q", eventsFile: "/a,b/e")
        #expect(commas.contains("memory-backend-file,id=vqscope-ram,size=268435456,mem-path=/a,,b/ram,share=on"))
        #expect(commas.contains("unix:/a,,b/q,server=on,wait=off") && commas.contains("events=/a,,b/e"))
        // QEMU's guest errors with the trace, both on its standard error (no -D), added to the
        // user's own -d items (QEMU takes the last -d).
        #expect(recorded.suffix(2) == ["-d", "guest_errors"] && !recorded.contains("-D"))
        // The user's -D left out: the log stays on QEMU's standard error, the recorder's packet pipe.
        let logged = try QEMUCommand(arguments: ["qemu-system-x86_64", "-d", "unimp", "-M", "q35", "-D", "/tmp/q.log", "-d", "int,cpu_reset", "--D", "/tmp/r.log"])
        let loggedArguments = logged.recordingArguments(ramFile: "/r/ram", qmpSocket: "/r/q", eventsFile: "/r/e")
        #expect(loggedArguments.prefix(6) == ["qemu-system-x86_64", "-d", "unimp", "-M", "q35", "-d"])
        #expect(loggedArguments.suffix(2) == ["-d", "int,cpu_reset,guest_errors"])
        #expect(!loggedArguments.contains("-D") && !loggedArguments.contains("--D") && !loggedArguments.contains("/tmp/q.log"))
        #expect(logged.arguments.contains("/tmp/q.log"))  // run.json keeps the user's command line as given
        let refusals: [([String], String)] = [
            (["qemu-system-x86_64", "-M", "q35,memory-backend=mem"], "-machine memory-backend is already set; vqscope record sets its own"),
            (["qemu-system-x86_64", "-M", "q35", "-object", "memory-backend-ram,id=m,size=1G"], "-object memory-backend-ram: a memory backend is already given"),
            (["qemu-system-x86_64", "-M", "q35", "-mem-path", "/dev/hugepages"], "-mem-path conflicts with the shared RAM file vqscope record gives the guest"),
            (["qemu-system-x86_64", "-m", "256M"], "give the machine type (-M q35, pc, microvm or virt): its RAM layout locates the rings"),
            (["qemu-system-x86_64", "-M", "isapc"], "machine isapc: only q35, pc, microvm and virt are known"),
            (["qemu-system-x86_64", "-M", "q35", "-m", "1G,slots=2,maxmem=4G"], "memory hotplug (-m slots/maxmem) is not supported"),
            (["qemu-system-x86_64", "-M", "pc,max-ram-below-4g=1G", "-m", "2G"], "-machine max-ram-below-4g moves RAM from where vqscope record looks for it"),
            (["sh", "-c", "true"], "sh is not a qemu-system-* program"),
            (["qemu-system-x86_64", "-M", "q35,confidential-guest-support=sev0", "-object", "sev-guest,id=sev0,cbitpos=47"],
                "confidential-guest-support=sev0: the guest's memory is encrypted, its rings cannot be read"),
            (["qemu-system-x86_64", "-M", "q35", "-accel", "kvm", "-object", "tdx-guest,id=tdx0"], "-object tdx-guest: the guest's memory is encrypted, its rings cannot be read"),
            (["qemu-system-x86_64", "-M", "q35", "-trace", "events=e.txt,file=t.log"],
                "-trace file= moves QEMU's log from its standard error, where vqscope record reads the trace"),
        ]
        for (refused, reason) in refusals {
            #expect(throws: RecordError.unsupportedCommand(reason)) { _ = try QEMUCommand(arguments: refused) }
        }
        // Plain KVM is not refused: the guest's RAM is the same shared file (not run here: this
        // machine has no KVM); nor is vhost, whose rings are read from memory like any other.
        #expect(try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-accel", "kvm", "-enable-kvm", "-cpu", "host",
            "-netdev", "tap,id=n,vhost=on", "-device", "virtio-net-pci,netdev=n"]).machine == .q35)
        // QEMU takes --option as -option: the machine read, the memory backend refused.
        #expect(try QEMUCommand(arguments: ["qemu-system-x86_64", "--machine", "q35", "--m", "64M"]).memory == 64 << 20)
        #expect(throws: RecordError.unsupportedCommand("-object memory-backend-ram: a memory backend is already given")) {
            _ = try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "--object", "memory-backend-ram,id=m,size=1G"])
        }
        #expect(throws: RecordError.unsupportedCommand("-object memory-backend-memfd: a memory backend is already given")) {
            _ = try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-object", #"{"qom-type": "memory-backend-memfd", "id": "m", "size": 1073741824}"#])
        }
        #expect(throws: RecordError.unsupportedCommand("-object sev-guest: the guest's memory is encrypted, its rings cannot be read")) {
            _ = try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-object", "id=s,qom-type=sev-guest,cbitpos=47"])
        }
        #expect(throws: RecordError.unsupportedCommand(
            "-daemonize: QEMU would leave vqscope record at once and run on unwatched; record runs it in the foreground")) {
            _ = try QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-display", "none", "-daemonize"])
        }
        // Other objects, whatever their properties say.
        #expect(try QEMUCommand(arguments: [
            "qemu-system-x86_64", "-M", "q35", "-object", "rng-random,id=r,filename=/dev/urandom",
            "-object", "filter-dump,id=f,netdev=n0,file=memory-backend.pcap",
        ]).machine == .q35)
        // -m as QEMU 7.2 reads it (each value's base-memory from QMP query-memory-size-summary):
        // rounded up to 8 KiB, a fraction with a unit, either case; what it refuses, refused.
        func memory(_ size: String) -> UInt64? { try? QEMUCommand(arguments: ["qemu-system-x86_64", "-M", "q35", "-m", size]).memory }
        #expect(memory("100.3M") == 105_177_088 && memory("1000000B") == 1_007_616)
        #expect(memory("100k") == 106_496 && memory("2g") == 2 << 30 && memory("1.5G") == 1_610_612_736)
        #expect(memory("512") == 512 << 20 && memory("64m") == 64 << 20)
        for unreadable in ["1.5", "64MB", "64MiB", "0x10M", "0", "1.5B", "20E", "", "M", ".5G", "1.G", "-1M", "1e3M"] {
            #expect(memory(unreadable) == nil, "\(unreadable)")
        }
        #expect(throws: (any Error).self) {
            var parsed = try VQScope.parseAsRoot(["record", "-o", "/tmp/run"])
            try parsed.validate()
        }
        // Lockstep unless --no-lockstep.
        let command = ["--", "qemu-system-x86_64", "-M", "q35"]
        #expect(try (VQScope.parseAsRoot(["record", "-o", "r"] + command) as? Record)?.lockstep == true)
        #expect(try (VQScope.parseAsRoot(["record", "-o", "r", "--no-lockstep"] + command) as? Record)?.lockstep == false)
    }

    /// A recording: a net device with VERSION_1 and MRG_RXBUF, a transmitted ARP request, a
    /// received packet of two buffers, a stale entry and a reset.
    static let recording = """
        {"kind": "header", "schema": "vqscope.rings", "version": 1}
        {"kind": "queue", "t": 1, "device": "virtio-net@/n", "type": "net", "queue": 0, "desc": 4096, "avail": 8192, "used": 12288, "size": 8, "features": \(1 << 32 | 1 << 15), "role": "rx"}
        {"kind": "queue", "t": 1, "device": "virtio-net@/n", "type": "net", "queue": 1, "desc": 16384, "avail": 20480, "used": 24576, "size": 8, "features": \(1 << 32 | 1 << 15), "role": "tx"}
        {"kind": "avail", "t": 2000000000, "device": "virtio-net@/n", "queue": 1, "index": 0, "head": 0, "descriptors": [[65536, 54, 0, 0]], "writable": 0, "defects": [], "data": "000000000000000000000000ffffffffffff52540012345608060001080006040001525400123456000000000000000000000a000202"}
        {"kind": "avail", "t": 2000000001, "device": "virtio-net@/n", "queue": 1, "index": 1, "head": 0, "stale": true}
        {"kind": "used", "t": 3000000000, "device": "virtio-net@/n", "queue": 0, "index": 0, "id": 0, "len": 16, "data": "000000000000000000000200aabbccdd"}
        {"kind": "used", "t": 3000000500, "device": "virtio-net@/n", "queue": 0, "index": 1, "id": 1, "len": 2, "data": "eeff"}
        {"kind": "reset", "t": 4000000000, "device": "virtio-net@/n"}
        """

    @Test("recorded frames: the transmitted chain and the merged received packet, headers removed, stale entries skipped")
    func frames() throws {
        let file = TemporaryFile(text: Self.recording, name: "rings.jsonl")
        defer { file.remove() }
        var frames: [(NetFrame, Int64)] = []
        let problems = try RecordedFrames.read(path: file.path) { frames.append(($0, $1)) }
        #expect(problems.problems.isEmpty && problems.cutOffLine == nil)
        #expect(frames.map(\.0.direction) == [.transmit, .receive])
        #expect(frames.first?.0.bytes.count == 42 && frames.first?.1 == 2_000_000_000)
        #expect(frames.last?.0.bytes == [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff] && frames.last?.0.bufferCount == 2)
        #expect(frames.last?.1 == 3_000_000_000 && frames.last?.0.usedIndex == 0 && frames.last?.0.origin == .recorded)
        // A line that is not a record is reported with its line number.
        let broken = TemporaryFile(text: Self.recording + "\nnot json\n", name: "rings.jsonl")
        defer { broken.remove() }
        let complaints = try RecordedFrames.read(path: broken.path) { _, _ in }
        #expect(complaints.problems.count == 1 && complaints.problems.first?.hasSuffix(":9: not a ring record") == true)
    }
}
