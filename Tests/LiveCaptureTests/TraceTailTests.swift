import Foundation
import Testing
import TraceSources

@testable import LiveCapture

/// QEMU's standard error followed during a recording (``TraceTail``): copied whole to
/// `trace.log`, its messages handed over to be shown (``QEMUMessages``), the transport writes
/// and status events decoded as they come, through a pipe standing in for QEMU's.
struct TraceTailTests {
    /// A tail reading a pipe, writing `trace.log` in a directory of its own.
    final class Piped {
        let directory: String
        private(set) var writer: Int32
        let messages = QEMUMessages()
        let tail: TraceTail

        init(output: String? = nil) throws {
            self.directory = NSTemporaryDirectory() + "vqscope-tail-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            var ends: [Int32] = [-1, -1]
            #expect(pipe(&ends) == 0)
            self.writer = ends[1]
            self.tail = try TraceTail(input: ends[0], path: output ?? self.directory + "/trace.log", messages: self.messages)
        }

        deinit {
            self.end()
            try? FileManager.default.removeItem(atPath: self.directory)
        }

        /// QEMU, and every process it started, closed the pipe.
        func end() {
            if self.writer >= 0 { close(self.writer) }
            self.writer = -1
        }

        /// QEMU writes `text`.
        func write(_ text: String) { self.write(bytes: Array(text.utf8)) }

        func write(bytes: [UInt8]) {
            var written = 0
            while written < bytes.count {
                let step = bytes.withUnsafeBytes { Glibc.write(self.writer, $0.baseAddress! + written, bytes.count - written) }
                #expect(step > 0)
                guard step > 0 else { return }
                written += step
            }
        }

        var trace: String { (try? String(contentsOfFile: self.directory + "/trace.log", encoding: .utf8)) ?? "" }

        /// What the decoder makes of `line` (with its newline).
        func classify(_ line: String) -> LineOutcome {
            Array(line.utf8.dropLast()).withUnsafeBufferPointer { QEMULogDecoder().decode($0, number: 1) }
        }
        var shown: String { String(decoding: self.messages.take().bytes, as: UTF8.self) }
    }

    /// One `memory_region_ops_write` line of the log backend.
    static func line(_ address: UInt64, _ value: UInt64, region: String) -> String {
        "9722@1795724092.792597:memory_region_ops_write cpu 0 mr 0x55616e29ffa0 addr 0x\(String(address, radix: 16)) "
            + "value 0x\(String(value, radix: 16)) size 4 name '\(region)'\n"
    }

    @Test("the stream is followed line by line as it comes: virtio-pci common configuration and virtio-mmio writes at their offset, a line cut short read once complete; in trace.log all of it but other regions' accesses, only QEMU's messages shown")
    func followsTrace() throws {
        let piped = try Piped()
        #expect(piped.tail.poll().isEmpty)  // nothing written yet
        let message = "2026-11-28T02:10:39.000001Z qemu-system-x86_64: virtio: Desc next is 300\n"
        let common = Self.line(0xfebf_8020, 0x2c86000, region: "virtio-pci-common-virtio-rng")
        let other = Self.line(0xfebc_2000, 0xfee01004, region: "msix-table")
        let rest = "9722@1795724092.791309:virtio_set_status vdev 0x55616e2a7830 val 3\n"
            + message
            + Self.line(0x0a00_3e40, 0x10, region: "virtio-mmio")
        let first = common + other + rest
        let second = Self.line(0xfebf_401c, 1, region: "virtio-pci-common-virtio-net")
        piped.write(first + second.prefix(40))
        #expect(piped.tail.poll() == [
            .init(transport: .pci(name: "virtio-rng", address: 0xfebf_8000), offset: 0x20, value: 0x2c86000, size: 4),
            .init(transport: .mmio(0x0a00_3e00), offset: 0x40, value: 0x10, size: 4),
        ])
        #expect(piped.tail.statusEvents == 1)
        #expect(piped.shown == message)
        let farewell = "2026-11-28T02:10:40.000002Z qemu-system-x86_64: terminating on signal 1\n"
        piped.write(String(second.dropFirst(40)) + farewell)
        #expect(piped.tail.poll() == [.init(transport: .pci(name: "virtio-net", address: 0xfebf_4000), offset: 0x1C, value: 1, size: 4)])
        #expect(piped.shown == farewell)
        // All of it but the access to a region other than virtio's.
        #expect(piped.trace == common + rest + second + farewell)
        #expect(piped.tail.droppedLines == 1 && piped.tail.writeFailure == nil)
    }

    @Test("once QEMU has exited, what is left is read to the pipe's end, a last line without its newline too")
    func drain() throws {
        let piped = try Piped()
        let lines = (0..<2_000).map { Self.line(0x0a00_3e00 + UInt64($0 % 2) * 4, UInt64($0), region: "virtio-mmio") }.joined()
        let last = "qemu-system-x86_64: -netdev user,id=n: warning: cut short"
        // Written whole before any read: the pipe must hold it (a smaller one would hang, not fail).
        try #require(piped.tail.pipeBytes >= (lines + last).utf8.count)
        piped.write(lines + last)
        piped.end()
        // More than a poll reads (readLimit), the last line without a newline shown.
        #expect(lines.utf8.count > TraceTail.readLimit)
        let writes = piped.tail.drain()
        #expect(writes.count == 2_000 && writes.last?.value == 1_999 && writes.last?.offset == 4)
        #expect(piped.shown == last + "\n")
        #expect(piped.trace == lines + last)
        #expect(piped.tail.drain().isEmpty)
    }

    @Test("run.json traceClock: each timestamped event line's lag from its stamp to its read, the smallest and the largest; a line stamped ahead of the recorder's clock gives a negative lag")
    func readLag() throws {
        let piped = try Piped()
        let now = RingRecordWriter.now() / 1_000
        let stamp = { (microseconds: Int64) in "9722@\(microseconds / 1_000_000).\(String(format: "%06lld", microseconds % 1_000_000))" }
        // Two events 5 ms and 1 ms old; a line of another region (not an event of interest) is not counted.
        piped.write(stamp(now - 5_000) + ":virtio_set_status vdev 0x55616e2a7830 val 3\n"
            + stamp(now - 3_000) + ":memory_region_ops_write cpu 0 mr 0x1 addr 0xfebc2000 value 0x0 size 4 name 'msix-table'\n"
            + stamp(now - 1_000) + ":virtio_set_status vdev 0x55616e2a7830 val 7\n")
        _ = piped.tail.poll()
        let lag = piped.tail.readLag
        #expect(lag.lines == 2 && lag.maximum.map { $0 - (lag.minimum ?? 0) } == 4_000_000)
        #expect(lag.minimum.map { $0 >= 1_000_000 && $0 < 1_000_000_000 } == true)
        #expect(lag.manifestEntry.hasPrefix(#"{"lines": 2, "lagMinimumMicroseconds": "#))
        // A trace clock ten seconds ahead.
        piped.write(stamp(now + 10_000_000) + ":virtio_set_status vdev 0x55616e2a7830 val 0\n")
        _ = piped.tail.poll()
        #expect(piped.tail.readLag.lines == 3 && piped.tail.readLag.minimum.map { $0 < -9_000_000_000 } == true)
    }

    @Test("lockstep: the recorder's pipe holds one of QEMU's writes at a time, a write waits until the one before is read, and a line written in pieces is read whole")
    func lockstep() throws {
        let ends = try TraceTail.makePipe()
        let directory = NSTemporaryDirectory() + "vqscope-lockstep-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let messages = QEMUMessages()
        let tail = try TraceTail(input: ends.read, path: directory + "/trace.log", messages: messages)
        defer { close(ends.write) }
        #expect(tail.lockstep && tail.pipeBytes == Int(sysconf(Int32(_SC_PAGESIZE))))
        #expect(tail.account.lockstep)
        // QEMU's end made non-blocking here, so that "would wait" shows as EAGAIN.
        _ = fcntl(ends.write, F_SETFL, fcntl(ends.write, F_GETFL) | O_NONBLOCK)
        func write(_ text: String) -> Bool {
            text.utf8.withContiguousStorageIfAvailable { Glibc.write(ends.write, $0.baseAddress, $0.count) == $0.count } ?? false
        }
        let lines = (0..<3).map { Self.line(0x0a00_3e30, UInt64($0), region: "virtio-mmio") }
        #expect(write(lines[0]))
        #expect(!write(lines[1]) && errno == EAGAIN)  // one write in the pipe: the next waits
        #expect(tail.poll() == [.init(transport: .mmio(0x0a00_3e00), offset: 0x30, value: 0, size: 4)])
        #expect(write(lines[1]))
        #expect(!write(lines[2]))
        #expect(tail.poll().map(\.value) == [1])
        // A message QEMU writes in pieces (error_report: its program name, then its text).
        #expect(write("qemu-system-aarch64: "))
        #expect(tail.poll().isEmpty && messages.take().bytes.isEmpty)
        #expect(write("virtio: Looped descriptor\n"))
        #expect(tail.poll().isEmpty)
        #expect(String(decoding: messages.take().bytes, as: UTF8.self) == "qemu-system-aarch64: virtio: Looped descriptor\n")
        // A write longer than a page goes in a packet at a time, each read whole.
        let long = String(repeating: "y", count: 6_000) + "\n"
        var left = Array(long.utf8)[...]
        var packets = 0
        while !left.isEmpty, packets < 10 {
            let step = left.withUnsafeBytes { Glibc.write(ends.write, $0.baseAddress, $0.count) }
            #expect(step > 0 && step <= tail.pipeBytes)
            guard step > 0 else { break }
            left = left.dropFirst(step)
            packets += 1
            _ = tail.poll()
        }
        #expect(packets == 2 && tail.keptLines == 4)
        #expect(String(decoding: messages.take().bytes, as: UTF8.self) == long)
        let trace = try String(contentsOfFile: directory + "/trace.log", encoding: .utf8)
        #expect(trace == lines[0] + lines[1] + "qemu-system-aarch64: virtio: Looped descriptor\n" + long)
        // `record --no-lockstep`: a plain pipe, which QEMU fills up to its capacity.
        let plain = try TraceTail.makePipe(packets: false)
        defer { close(plain.write) }
        let buffered = try TraceTail(input: plain.read, path: "/dev/null", messages: messages)
        #expect(!buffered.lockstep && buffered.pipeBytes == Int(TraceTail.pipeCapacity))
    }

    @Test("a line longer than any trace event is passed through undecoded, not shown, and counted as a line; the next line is read")
    func longLine() throws {
        let piped = try Piped()
        let text = String(repeating: "x", count: TraceTail.longestLine * 2) + "\n" + Self.line(0x14, 0, region: "virtio-pci-common-virtio-blk")
        try #require(piped.tail.pipeBytes >= text.utf8.count)
        piped.write(text)
        // Each poll reads at most readLimit bytes, and says when more may wait.
        var writes = piped.tail.poll()
        var polls = 1
        while piped.tail.mayHaveMore {
            writes += piped.tail.poll()
            polls += 1
        }
        #expect(polls == text.utf8.count / TraceTail.readLimit + 1)
        #expect(writes == [.init(transport: .pci(name: "virtio-blk", address: 0), offset: 0x14, value: 0, size: 4)])
        // Passed through to trace.log as it came, not shown; counted as a line: the next is line 2.
        #expect(piped.shown.isEmpty && piped.trace == text)
        piped.write("qemu-system-x86_64: virtio: Looped descriptor\n")
        _ = piped.tail.poll()
        #expect(piped.tail.keptLines == 3)
    }

    @Test("trace.log that cannot be written (a full disk): the failure kept, the stream still followed and its messages shown, so that QEMU never waits")
    func writeFailure() throws {
        let piped = try Piped(output: "/dev/full")
        let message = "qemu-system-x86_64: virtio: Looped descriptor\n"
        piped.write(Self.line(0x0a00_3e44, 1, region: "virtio-mmio") + message)
        #expect(piped.tail.poll() == [.init(transport: .mmio(0x0a00_3e00), offset: 0x44, value: 1, size: 4)])
        #expect(piped.tail.writeFailure == "/dev/full: cannot write: No space left on device")
        #expect(piped.shown == message)
    }

    @Test("any stream, cut anywhere: trace.log is the stream without other regions' accesses, line for line, and only the lines that are no trace event are shown", arguments: [1, 7, 4_093, 40_000])
    func anyCut(seed: UInt64) throws {
        var state = seed
        func next(_ bound: Int) -> Int {  // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
        let piped = try Piped()
        var stream = "", kept = "", shown = "", dropped = 0
        for index in 0..<1_500 {
            let line: String
            switch next(6) {
            case 0: line = Self.line(0x0a00_3e00 + UInt64(4 * next(32)), UInt64(index), region: "virtio-mmio")
            case 1:
                line = Self.line(0x3f8, UInt64(next(256)), region: "serial")
                dropped += 1
            case 2:
                line = "qemu-system-x86_64: virtio: Desc next is \(index)\n"
                shown += line
            case 3: line = "9722@1795724092.79\(next(10_000)):virtio_queue_notify vdev 0x1 n 0 vq 0x2\n"
            case 4:
                // Bytes of any value but a newline, sometimes longer than any line of QEMU's.
                // Past the limit by more than a read: never decoded, however the stream is cut.
                let length = next(16) == 0 ? TraceTail.longestLine + TraceTail.readLimit + next(3_000) : next(200)
                let bytes = (0..<length).map { _ in UInt8(next(255) + 1) }.map { $0 == 0x0A ? 0x20 : $0 }
                line = String(decoding: bytes, as: UTF8.self) + "\n"
                if length < 200, piped.classify(line) == .nonEvent { shown += line }
            default: line = "9722@1795724092.79\(next(10_000)):virtqueue_pop vq 0x2 elem 0x3 in_num 1 out_num 0\n"
            }
            stream += line
            if !(line.contains("name 'serial'")) { kept += line }
        }
        var bytes = Array(stream.utf8)[...]
        while !bytes.isEmpty {
            let cut = min(bytes.count, 1 + next(9_000))
            piped.write(bytes: Array(bytes.prefix(cut)))
            bytes = bytes.dropFirst(cut)
            // Polled as the sampler does: at once again while more waits.
            repeat { _ = piped.tail.poll() } while piped.tail.mayHaveMore
        }
        piped.end()
        _ = piped.tail.drain()
        #expect(piped.trace == kept)
        #expect(piped.tail.droppedLines == dropped && piped.tail.keptLines == 1_500 - dropped)
        #expect(piped.shown == shown)
    }

    @Test("QEMU's messages wait to be shown up to a limit; past it, lines are counted and not kept")
    func messagesBounded() {
        let messages = QEMUMessages()
        let line = Array(repeating: UInt8(ascii: "m"), count: 1_023)
        for _ in 0..<(QEMUMessages.limit / 1_024 + 10) { messages.append(line[...]) }
        let waiting = messages.take()
        #expect(waiting.bytes.count == QEMUMessages.limit && waiting.dropped == 10)
        #expect(waiting.bytes.last == 0x0A)
        messages.append(line[...])
        #expect(messages.take() == (bytes: line + [0x0A], dropped: 0))
    }
}
