import CPcap

#if canImport(Glibc)
import Glibc
#endif

/// A packet's capture time, as pcap stores it: seconds and microseconds since the epoch.
public struct PcapTimestamp: Sendable, Hashable {
    public var seconds: Int
    public var microseconds: Int

    public init(seconds: Int, microseconds: Int) {
        self.seconds = seconds
        self.microseconds = microseconds
    }

    /// From nanoseconds since the epoch (the trace's clock), rounded down to microseconds.
    public init(nanoseconds: Int64) {
        let (seconds, remainder) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        let fix = remainder < 0 ? 1 : 0
        self.seconds = Int(seconds) - fix
        self.microseconds = Int(remainder + Int64(fix) * 1_000_000_000) / 1_000
    }
}

/// What went wrong with a pcap file, with libpcap's own words.
public enum PcapError: Error, Equatable, CustomStringConvertible {
    case cannotCreate(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason): "\(path): cannot create the pcap file: \(reason)"
        case .cannotWrite(let path, let reason): "\(path): cannot write the pcap file: \(reason)"
        case .cannotRead(let path, let reason): "\(path): cannot read as pcap: \(reason)"
        }
    }
}

/// A pcap file written through libpcap (`pcap_open_dead`, `pcap_dump_open`, `pcap_dump`):
/// Ethernet frames (LINKTYPE_ETHERNET, 1), microsecond timestamps. Frames go to the file as
/// they come; nothing is kept.
public final class PcapWriter {
    /// The longest frame written whole; vqscope skips longer ones before they get here.
    public static let snapshotLength = 65_535
    public let path: String
    private var handle: OpaquePointer?
    private var dumper: OpaquePointer?
    public private(set) var framesWritten = 0

    public init(path: String) throws(PcapError) {
        self.path = path
        guard let handle = pcap_open_dead(DLT_EN10MB, Int32(Self.snapshotLength)) else {
            throw .cannotCreate(path: path, reason: "pcap_open_dead failed")
        }
        guard let dumper = pcap_dump_open(handle, path) else {
            let reason = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw .cannotCreate(path: path, reason: reason)
        }
        self.handle = handle
        self.dumper = dumper
    }

    deinit { self.finish() }

    /// Appends one frame (at most ``snapshotLength`` bytes are stored; `originalLength` says
    /// how long the frame was).
    public func write(_ frame: [UInt8], at time: PcapTimestamp) {
        guard let dumper = self.dumper else { return }
        let stored = min(frame.count, Self.snapshotLength)
        var header = pcap_pkthdr(
            ts: timeval(tv_sec: time.seconds, tv_usec: time.microseconds), caplen: UInt32(stored),
            len: UInt32(clamping: frame.count))
        frame.withUnsafeBufferPointer { bytes in
            pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, bytes.baseAddress)
        }
        self.framesWritten += 1
    }

    /// Flushes and closes the file; an error libpcap reports on the way is thrown.
    public func close() throws(PcapError) {
        guard let dumper = self.dumper else { return }
        let failed = pcap_dump_flush(dumper) != 0
        self.finish()
        if failed { throw .cannotWrite(path: self.path, reason: String(cString: strerror(errno))) }
    }

    private func finish() {
        if let dumper = self.dumper { pcap_dump_close(dumper) }
        if let handle = self.handle { pcap_close(handle) }
        self.dumper = nil
        self.handle = nil
    }
}

/// One record of a pcap file read back.
public struct PcapRecord: Sendable, Equatable {
    public var timestamp: PcapTimestamp
    public var originalLength: Int
    public var bytes: [UInt8]
}

/// Reads a pcap file through libpcap (`pcap_open_offline`, `pcap_next_ex`), one record at a
/// time.
public enum PcapReader {
    /// The file's link type (1 for Ethernet) and each record, in order.
    public static func read(path: String, _ body: (PcapRecord) -> Void) throws(PcapError) -> Int32 {
        var message = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline(path, &message) else {
            throw .cannotRead(path: path, reason: String(cString: message))
        }
        defer { pcap_close(handle) }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == PCAP_ERROR_BREAK { break }
            guard status == 1, let header, let data else {
                throw .cannotRead(path: path, reason: String(cString: pcap_geterr(handle)))
            }
            let record = header.pointee
            body(
                PcapRecord(
                    timestamp: PcapTimestamp(seconds: record.ts.tv_sec, microseconds: record.ts.tv_usec),
                    originalLength: Int(record.len),
                    bytes: Array(UnsafeBufferPointer(start: data, count: Int(record.caplen)))))
        }
        return pcap_datalink(handle)
    }
}
