import Synchronization
import TraceSources
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// Follows what QEMU writes on its standard error during a recording. QEMU is started with
/// no `-D` (``QEMUCommand/recordingArguments(ramFile:qmpSocket:eventsFile:)``), so its
/// trace lines, its `-d guest_errors` complaints and its `error_report` messages
/// (`virtio_error`'s: "Desc next is …", a malformed request's) come down one pipe in the order
/// QEMU wrote them. The tail copies the lines to `RUN/trace.log` (all but accesses to memory
/// regions other than virtio's, ``droppedLines``), where `analyze` finds each
/// message right after the event it follows (a message after a `virtqueue_pop` detaches that
/// element), hands the lines that are not trace events to ``QEMUMessages`` to be shown, and
/// decodes the two things the recorder acts on at once: a driver's writes to its device's
/// transport (`memory_region_ops_write` on a virtio-pci common configuration structure or a
/// virtio-mmio register block: ring addresses the moment a queue is enabled, resets the moment
/// they happen), and `virtio_set_status` events (QMP is asked about the devices now, not at
/// the next poll). Lines are decoded by the same ``QEMULogDecoder`` as `vqscope analyze` uses.
///
/// Where the kernel has packet pipes (pipe(7), `O_DIRECT`), the pipe holds one of QEMU's
/// writes at a time (``lockstep``): QEMU writes each trace line with one write(2), and waits in
/// its next until the sampler has read this one. The sampler reads a line it saw waiting
/// (``hasInput``) before a round of scans that found nothing new, so whatever QEMU did before
/// it wrote a line, a scan has seen before QEMU can write the next. Between a driver's offer
/// and the device's used element QEMU writes at least two lines (`virtqueue_pop`, then
/// `virtqueue_fill` before it writes the element): every chain is read before the device can
/// complete it.
final class TraceTail {
    /// One write to a device's transport registers.
    struct TransportWrite: Equatable {
        var transport: Transport
        /// The offset in the common configuration structure (§4.1.4.3) or the register block (§4.2.2).
        var offset: UInt64
        var value: UInt64
        /// The access size in bytes.
        var size: UInt32
    }

    /// How long after its own timestamp each timestamped event line was read: the recorder's
    /// clock (CLOCK_REALTIME, as in `rings.jsonl`) against the trace's (`-msg timestamp=on`),
    /// run.json `traceClock`. A line is read after it was written, so on one clock no lag is
    /// negative; the smallest is how closely the two agree, at most, and the largest how far
    /// behind QEMU the tail fell.
    struct ReadLag: Equatable {
        var lines = 0
        /// Nanoseconds; nil before a timestamped line.
        var minimum: Int64?
        var maximum: Int64?

        /// A line stamped `timestamp` was read by `now` (nanoseconds since the epoch).
        mutating func line(stamped timestamp: Int64, readBy now: Int64) {
            let (lag, overflow) = now.subtractingReportingOverflow(timestamp)
            guard !overflow else { return }
            self.lines += 1
            self.minimum = min(self.minimum ?? lag, lag)
            self.maximum = max(self.maximum ?? lag, lag)
        }

        /// run.json's `traceClock`.
        var manifestEntry: String {
            "{\"lines\": \(self.lines), \"lagMinimumMicroseconds\": \(self.minimum.map { String($0 / 1_000) } ?? "null"), "
                + "\"lagMaximumMicroseconds\": \(self.maximum.map { String($0 / 1_000) } ?? "null")}"
        }
    }

    /// Which device's registers a write went to, as the trace names it.
    enum Transport: Hashable {
        /// A virtio-pci device's common configuration structure: QEMU's name for the device
        /// (`virtio-net`; the region is `virtio-pci-common-` and this name), shared by every
        /// device of its type, and the structure's guest-physical address, which is not.
        case pci(name: String, address: UInt64)
        /// A virtio-mmio transport by the guest-physical address of its register block.
        case mmio(UInt64)
    }

    /// At most this much is read per call, so that a busy trace holds the rings up for little
    /// time: the sampler polls between its rounds of scans, and QEMU may write a trace line
    /// for each byte the guest writes to its serial port. Decoding 16 KiB a poll took up to
    /// 320 µs, over 40 µs 160 times in a packed Linux boot — long enough for QEMU to take a packed
    /// disk request and use it unseen (47 µs from notification to used in one CI run). With
    /// 2 KiB a poll, and the next round's poll at once while more waits (``mayHaveMore``), a
    /// burst is followed at the pace of the rounds.
    static let readLimit = 1 << 11
    /// A line longer than this is not QEMU's (a trace event's arguments are short): it is not
    /// decoded, and goes to `trace.log` as it comes, unheld.
    static let longestLine = 1 << 16
    /// The pipe's capacity asked for (fcntl(2) `F_SETPIPE_SZ`; Linux lets any process have
    /// 1 MiB): QEMU waits in its write only once the sampler has fallen this far behind.
    static let pipeCapacity: Int32 = 1 << 20
    /// fcntl(2)'s `F_SETPIPE_SZ` and `F_GETPIPE_SZ` (`<linux/fcntl.h>`; Glibc's module leaves them out).
    private static let setPipeSize: Int32 = 1024 + 7
    private static let getPipeSize: Int32 = 1024 + 8
    /// open(2)'s `O_DIRECT`, which on a pipe is packet mode (Glibc's module leaves it out; its
    /// value depends on the architecture). Nil where it is not known: no lockstep there.
    static let packetMode: Int32? = {
        #if arch(x86_64)
        return 0o40000
        #elseif arch(arm64)
        return 0o200000
        #else
        return nil
        #endif
    }()
    /// The size of one packet slot, a page: a packet pipe of this capacity holds one write.
    private static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// The pipe's capacity as the kernel gave it (run.json `tracePipeBytes`).
    let pipeBytes: Int
    /// Whether QEMU's every write waits until the sampler has read the one before (a packet
    /// pipe of one slot; run.json `traceLockstep`). Otherwise QEMU waits only once the pipe's
    /// ``pipeCapacity`` is full.
    let lockstep: Bool

    /// A pipe for QEMU's standard error, both ends closed on exec; with `packets`, a packet
    /// pipe of one slot where the kernel makes one (``lockstep``; the reading end is marked
    /// too, so that the tail knows). A packet pipe of more slots would hold one line a slot,
    /// and is not made.
    static func makePipe(packets: Bool = true) throws(RecordError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw .io("a pipe for QEMU's standard error: \(String(cString: strerror(errno)))")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        if packets, let packetMode = Self.packetMode, fcntl(ends[0], Self.setPipeSize, Int32(Self.pageBytes)) == Self.pageBytes,
            fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | packetMode) == 0
        {
            _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | packetMode)
        }
        return (ends[0], ends[1])
    }

    /// The pipe's reading end, not blocking; -1 once it has ended (QEMU and all its children
    /// closed it).
    private var input: Int32
    /// `RUN/trace.log`.
    private let descriptor: Int32
    /// The lines kept from what was just read, written out once it is split.
    private var output: [UInt8] = []
    /// The lines `trace.log` has so far; the next line's number there is one more.
    private(set) var keptLines = 0
    /// Lines of QEMU's that `trace.log` does not keep: `memory_region_ops_read` and `_write`
    /// of regions other than virtio's. Recording enables them for virtio's (the driver's
    /// register writes, `device_status` reads); QEMU has no way to trace one region alone,
    /// and the rest — serial ports, timers, interrupt controllers — were 97 % of a Linux
    /// boot's lines and 99.9 % of U-Boot's.
    private(set) var droppedLines = 0
    private let path: String
    /// The start of a line not yet complete.
    private var carry: [UInt8] = []
    private var skippingLongLine = false
    /// A read's room: ``readLimit``, or in ``lockstep`` a page, the largest packet (a read
    /// takes one packet, and drops what does not fit).
    private var buffer: [UInt8]
    private let decoder = QEMULogDecoder()
    private let messages: QEMUMessages
    /// `virtio_set_status` events seen so far.
    private(set) var statusEvents = 0
    private(set) var readLag = ReadLag()
    /// Why `trace.log` could not be written in full (the first failure; what came after it was
    /// still read, and its messages shown, so that QEMU never waits on the pipe).
    private(set) var writeFailure: String?
    /// When the bytes being split into lines had been read (``take(_:into:)``).
    private var readBy: Int64 = 0
    /// Bytes read from the pipe so far.
    private var bytesRead = 0

    /// Follows the pipe whose reading end `input` is (and closes it), its lines kept in `path`.
    init(input: Int32, path: String, messages: QEMUMessages) throws(RecordError) {
        let output = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            close(input)
            throw .io("\(path): cannot create: \(String(cString: strerror(errno)))")
        }
        let flags = fcntl(input, F_GETFL)
        _ = fcntl(input, F_SETFL, flags | O_NONBLOCK)
        let packets = Self.packetMode.map { flags >= 0 && flags & $0 != 0 } ?? false
        // A packet pipe has its one slot (``makePipe(packets:)``). Otherwise the kernel may give
        // less than asked (a user past `pipe-user-pages-soft`): what it gave is kept.
        if !packets { _ = fcntl(input, Self.setPipeSize, Self.pipeCapacity) }
        self.pipeBytes = Int(max(fcntl(input, Self.getPipeSize), 0))
        self.lockstep = packets && self.pipeBytes == Self.pageBytes
        self.buffer = [UInt8](repeating: 0, count: packets ? max(Self.pageBytes, Self.readLimit) : Self.readLimit)
        (self.input, self.descriptor, self.path, self.messages) = (input, output, path, messages)
    }

    deinit {
        if self.input >= 0 { close(self.input) }
        close(self.descriptor)
    }

    /// Whether a write waits in the pipe, or the pipe has ended (poll(2), which takes no lock
    /// a writer needs; FIONREAD would take the pipe's).
    var hasInput: Bool {
        guard self.input >= 0 else { return false }
        var ready = pollfd(fd: self.input, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&ready, 1, 0) > 0
    }

    /// Whether the last poll read as much as it may: more may be waiting in the pipe.
    private(set) var mayHaveMore = false
    /// Whether the last poll read anything.
    private(set) var lastPollRead = false

    /// The transport writes in the lines completed since the last call (one read: at most
    /// ``readLimit`` bytes, or one packet).
    func poll() -> [TransportWrite] {
        var writes: [TransportWrite] = []
        (self.mayHaveMore, self.lastPollRead) = (false, false)
        while self.input >= 0 {
            let count = self.buffer.withUnsafeMutableBytes { read(self.input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                // The end: nothing can come any more. Otherwise (EAGAIN) nothing has yet.
                if count == 0 || errno != EAGAIN {
                    close(self.input)
                    self.input = -1
                }
                break
            }
            self.readBy = RingRecordWriter.now()
            self.lastPollRead = true
            self.bytesRead += count
            self.mayHaveMore = count == self.buffer.count
            self.take(self.buffer[0..<count], into: &writes)
            self.writeOut()
            break
        }
        return writes
    }

    /// Once QEMU has exited: what is left in the pipe (at most four times ``pipeCapacity``,
    /// should a process QEMU started go on writing there), and a last line without its
    /// newline — QEMU will write no more of it, whoever still holds the pipe.
    func drain() -> [TransportWrite] {
        var writes: [TransportWrite] = []
        let start = self.bytesRead
        while self.bytesRead - start < 4 * Int(Self.pipeCapacity) {
            let before = self.bytesRead
            writes += self.poll()
            if self.bytesRead == before { break }
        }
        if self.skippingLongLine {
            self.skippingLongLine = false
            self.keptLines += 1
        } else if !self.carry.isEmpty {
            if self.decode(self.carry[...], into: &writes) { self.output += self.carry }
            self.carry.removeAll()
            self.writeOut()
        }
        return writes
    }

    /// Writes the lines kept since the last call to `trace.log`.
    private func writeOut() {
        defer { self.output.removeAll(keepingCapacity: true) }
        guard self.writeFailure == nil else { return }
        var written = 0
        while written < self.output.count {
            let step = self.output.withUnsafeBytes { write(self.descriptor, $0.baseAddress! + written, $0.count - written) }
            if step < 0, errno == EINTR { continue }
            guard step > 0 else {
                self.writeFailure = "\(self.path): cannot write: \(String(cString: strerror(step < 0 ? errno : ENOSPC)))"
                return
            }
            written += step
        }
    }

    /// Splits `bytes` into lines, the first continuing the carried one; the lines kept go to
    /// ``output``. A line too long to be QEMU's is passed through to it unread, as it comes.
    func take(_ bytes: ArraySlice<UInt8>, into writes: inout [TransportWrite]) {
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            if self.skippingLongLine {
                self.skippingLongLine = false
                self.output += bytes[start...newline]
                self.keptLines += 1
            } else if self.carry.isEmpty {
                if self.decode(bytes[start..<newline], into: &writes) { self.output += bytes[start...newline] }
            } else {
                self.carry += bytes[start..<newline]
                if self.decode(self.carry[...], into: &writes) {
                    self.output += self.carry
                    self.output.append(0x0A)
                }
            }
            self.carry.removeAll(keepingCapacity: true)
            start = newline + 1
        }
        if self.skippingLongLine {
            self.output += bytes[start...]
            return
        }
        self.carry += bytes[start...]
        if self.carry.count > Self.longestLine {
            self.output += self.carry
            self.carry.removeAll(keepingCapacity: true)
            self.skippingLongLine = true
        }
    }

    /// Decodes one line; whether `trace.log` keeps it: all but an access to a memory region
    /// other than virtio's (``droppedLines``).
    private func decode(_ line: ArraySlice<UInt8>, into writes: inout [TransportWrite]) -> Bool {
        let outcome = line.withUnsafeBufferPointer { self.decoder.decode($0, number: self.keptLines + 1) }
        guard case .event(let record) = outcome else {
            if outcome == .nonEvent { self.messages.append(line) }
            if outcome == .otherEvent, line.withUnsafeBufferPointer(QEMULogDecoder.isRegionAccess) {
                self.droppedLines += 1
                return false
            }
            self.keptLines += 1
            return true
        }
        defer { self.keptLines += 1 }
        if let timestamp = record.timestamp { self.readLag.line(stamped: timestamp.nanoseconds, readBy: self.readBy) }
        switch record.event {
        case .qemuMessage:
            self.messages.append(line)
        case .setStatus:
            self.statusEvents += 1
        case .memoryRegionWrite(let region, let address, let value, let size) where region.hasPrefix(CommonConfig.qemuRegionPrefix):
            let offset = CommonConfig.offset(ofTraced: address)
            writes.append(
                TransportWrite(
                    transport: .pci(name: String(region.dropFirst(CommonConfig.qemuRegionPrefix.count)), address: address - offset),
                    offset: offset, value: value, size: size))
        case .memoryRegionWrite(let region, let address, let value, let size) where region == MMIORegister.qemuRegionName:
            let offset = MMIORegister.offset(ofTraced: address)
            writes.append(TransportWrite(transport: .mmio(address - offset), offset: offset, value: value, size: size))
        default:
            break
        }
        return true
    }
}

extension TraceTail {
    /// What the tail did, for run.json and `record`'s last words.
    struct Account {
        var readLag: ReadLag
        var droppedLines: Int
        var writeFailure: String?
        var pipeBytes: Int
        var lockstep: Bool
    }

    var account: Account {
        Account(
            readLag: self.readLag, droppedLines: self.droppedLines, writeFailure: self.writeFailure, pipeBytes: self.pipeBytes,
            lockstep: self.lockstep)
    }
}

/// QEMU's lines that are not trace events — its messages — waiting to be shown on the
/// recorder's standard error by a thread that may wait for the terminal: the sampler, which
/// finds them (``TraceTail``), must not. All of them are in `trace.log`; past ``limit`` bytes
/// waiting, lines are counted rather than kept (a guest can make QEMU complain at every
/// access).
final class QEMUMessages: Sendable {
    static let limit = 1 << 20
    private let waiting = Mutex<(bytes: [UInt8], dropped: Int)>(([], 0))

    /// A line, without its newline.
    func append(_ line: ArraySlice<UInt8>) {
        self.waiting.withLock { state in
            guard state.bytes.count + line.count + 1 <= Self.limit else {
                state.dropped += 1
                return
            }
            state.bytes += line
            state.bytes.append(0x0A)
        }
    }

    /// The lines waiting, and how many were not kept since the last call.
    func take() -> (bytes: [UInt8], dropped: Int) {
        self.waiting.withLock { state in
            defer { state = ([], 0) }
            return state
        }
    }
}
