import TraceSources
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// Follows the trace QEMU writes during a recording, line by line as it grows, for the two
/// things the recorder acts on at once: a driver's writes to its device's transport
/// (`memory_region_ops_write` on a virtio-pci common configuration structure or a virtio-mmio
/// register block: ring addresses the moment a queue is enabled, resets the moment they
/// happen), and `virtio_set_status` events (QMP is asked about the devices now, not at the
/// next poll). Lines are decoded by the same ``QEMULogDecoder`` as `vqscope analyze` uses.
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

    /// At most this much is read per call, so a busy trace costs bounded time per call: the
    /// sampler polls between its rounds, and QEMU may write a trace line for each byte the
    /// guest writes to its serial port. 16 KiB a poll, a poll every 100 µs, follows 160 MB/s.
    static let readLimit = 1 << 14
    /// A line longer than this is not QEMU's (a trace event's arguments are short): it is skipped.
    static let longestLine = 1 << 16

    private let path: String
    private var descriptor: Int32 = -1
    private var offset: off_t = 0
    private var lineNumber = 0
    /// The start of a line not yet complete.
    private var carry: [UInt8] = []
    private var skippingLongLine = false
    private var buffer = [UInt8](repeating: 0, count: TraceTail.readLimit)
    private let decoder = QEMULogDecoder()
    /// `virtio_set_status` events seen so far.
    private(set) var statusEvents = 0
    private(set) var readLag = ReadLag()
    /// When the bytes being split into lines had been read (``take(_:into:)``).
    private var readBy: Int64 = 0

    init(path: String) { self.path = path }

    deinit { if self.descriptor >= 0 { close(self.descriptor) } }

    /// The transport writes in the lines completed since the last call.
    func poll() -> [TransportWrite] {
        if self.descriptor < 0 {
            self.descriptor = open(self.path, O_RDONLY)
            if self.descriptor < 0 { return [] }
        }
        var writes: [TransportWrite] = []
        var total = 0
        while total < Self.readLimit {
            let count = self.buffer.withUnsafeMutableBytes { pread(self.descriptor, $0.baseAddress, $0.count, self.offset) }
            guard count > 0 else { break }
            self.readBy = RingRecordWriter.now()
            self.offset += off_t(count)
            total += count
            self.take(self.buffer[0..<count], into: &writes)
        }
        return writes
    }

    /// Splits `bytes` into lines, the first continuing the carried one.
    func take(_ bytes: ArraySlice<UInt8>, into writes: inout [TransportWrite]) {
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            if self.skippingLongLine {
                self.skippingLongLine = false
            } else if self.carry.isEmpty {
                self.decode(bytes[start..<newline], into: &writes)
            } else {
                self.carry += bytes[start..<newline]
                self.decode(self.carry[...], into: &writes)
            }
            self.carry.removeAll(keepingCapacity: true)
            self.lineNumber += 1
            start = newline + 1
        }
        guard !self.skippingLongLine else { return }
        self.carry += bytes[start...]
        if self.carry.count > Self.longestLine {
            self.carry.removeAll(keepingCapacity: true)
            self.skippingLongLine = true
        }
    }

    private func decode(_ line: ArraySlice<UInt8>, into writes: inout [TransportWrite]) {
        let outcome = line.withUnsafeBufferPointer { self.decoder.decode($0, number: self.lineNumber + 1) }
        guard case .event(let record) = outcome else { return }
        if let timestamp = record.timestamp { self.readLag.line(stamped: timestamp.nanoseconds, readBy: self.readBy) }
        switch record.event {
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
    }
}
