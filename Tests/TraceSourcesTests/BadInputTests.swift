import Testing
import TraceSources
import VirtioAnalysis
import VirtioTestSupport

func readAll(_ path: String, chunkSize: Int = 1 << 20) throws -> (items: [TraceItem], statistics: InputStatistics) {
    var reader = try TraceReader(path: path, chunkSize: chunkSize)
    var items: [TraceItem] = []
    while let item = try reader.next() { items.append(item) }
    return (items, reader.statistics)
}

struct BadInputTests {
    @Test("an empty file has no lines and no events")
    func empty() throws {
        let file = TemporaryFile(text: "")
        defer { file.remove() }
        let (items, statistics) = try readAll(file.path)
        #expect(items.isEmpty && statistics.lines == 0 && statistics.virtioEvents == 0)
    }

    @Test("a missing file and a directory are input errors")
    func missing() {
        #expect(throws: InputError.missing(path: "/nonexistent/trace.log")) { try TraceReader(path: "/nonexistent/trace.log") }
        #expect(throws: InputError.self) { try TraceReader(path: "/tmp") }
    }

    @Test("binary data is refused with the offset of its first NUL byte")
    func binary() throws {
        var bytes: [UInt8] = Array("virtio_set_status vdev 0x1 val 0\u{01}\u{02}".utf8)
        bytes += [0x00, 0xFF, 0x13, 0x37] + [UInt8](repeating: 0xAB, count: 4096)
        let file = TemporaryFile(bytes: bytes)
        defer { file.remove() }
        #expect(throws: InputError.undecodable(path: file.path, offset: 34, reason: "binary data (NUL byte) on line 1: not a QEMU `log` trace")) {
            _ = try readAll(file.path)
        }
    }

    @Test("ELF files are named as such")
    func otherFormats() throws {
        let elf = TemporaryFile(bytes: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0x0A])
        defer { elf.remove() }
        #expect(throws: InputError.undecodable(path: elf.path, offset: 0, reason: "this is an ELF file (a memory dump?), not a QEMU trace log")) {
            _ = try readAll(elf.path)
        }
    }

    @Test("a truncated last line is reported; a complete event on it is kept")
    func truncated() throws {
        let cut = TemporaryFile(text: "virtio_set_status vdev 0x1 val 0\nvirtqueue_pop vq 0x2 elem 0x3 in_n")
        defer { cut.remove() }
        let (items, _) = try readAll(cut.path)
        #expect(items.count == 2)
        #expect(items.last == .problem(InputProblem(kind: .unterminated, line: 2, offset: 33)))
        let complete = TemporaryFile(text: "virtio_set_status vdev 0x1 val 0\nvirtio_set_status vdev 0x1 val 1")
        defer { complete.remove() }
        let (kept, statistics) = try readAll(complete.path)
        #expect(kept.count == 3)
        #expect(statistics.virtioEvents == 2)
        guard case .record(let last) = kept.last else { Issue.record("last event dropped"); return }
        #expect(last.event == .setStatus(vdev: 1, value: 1) && last.line == 2)
    }

    @Test("a 10 MB line is skipped with one finding and the next line still decodes")
    func hugeLine() throws {
        var bytes = Array("virtio_set_status vdev 0x1 val 0\n".utf8)
        bytes += [UInt8](repeating: 0x41, count: 10_000_000)
        bytes += Array("\nvirtio_set_status vdev 0x1 val 1\n".utf8)
        let file = TemporaryFile(bytes: bytes)
        defer { file.remove() }
        for chunk in [4096, 1 << 20] {
            let (items, statistics) = try readAll(file.path, chunkSize: chunk)
            #expect(items.count == 3, "chunk \(chunk)")
            #expect(items[1] == .problem(InputProblem(kind: .overlong(limit: 65_536), line: 2, offset: 33)))
            guard case .record(let next) = items[2] else { Issue.record("line 3 lost"); continue }
            #expect(next.line == 3 && next.event == .setStatus(vdev: 1, value: 1))
            #expect(statistics.bytes == UInt64(bytes.count))
        }
        let report = try analyze(file.path)
        #expect(report.lines(of: "TRACE-LINE-TOO-LONG") == [2])
    }

    @Test("interleaved garbage is counted and skipped; the events around it decode")
    func garbage() throws {
        let text = """
            virtio_set_status vdev 0x1 val 0
            \u{1B}[31m!!@@## garbage 123
            virtio_set_status vdev 0x1 val 1
            Trace 0: 0x7f8a [00000000/000f1234/0x0]
            2026-11-26T08:52:12.421889Z qemu-system-x86_64: -device foo: not found
            virtio_set_status vdev 0x1 val 3

            """
        let file = TemporaryFile(text: text)
        defer { file.remove() }
        let (items, statistics) = try readAll(file.path)
        #expect(items.count == 3)
        #expect(statistics.nonEventLines == 3 && statistics.firstNonEventLine == 2 && statistics.lines == 6)
    }

    @Test("another program's output holds no virtio events")
    func otherProgram() throws {
        let text = """
            [    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)
            total 48
            drwxr-xr-x 2 root root 4096 Nov 26 10:00 bin
            GNU gdb (Debian 13.1-3) 13.1

            """
        let file = TemporaryFile(text: text)
        defer { file.remove() }
        let (items, statistics) = try readAll(file.path)
        #expect(items.isEmpty && statistics.virtioEvents == 0 && statistics.nonEventLines == 4)
    }

    @Test("the same events come out whatever the read size (drip-feed)", arguments: [1, 7, 4096])
    func dripFeed(chunk: Int) throws {
        let path = Fixtures.path("traces/real/linux-mmio-legacy.log.xz")
        let whole = try readAll(path)
        let dripped = try readAll(path, chunkSize: chunk)
        #expect(dripped.items == whole.items)
        #expect(dripped.statistics == whole.statistics)
        #expect(whole.items.count > 2000)
    }
}
