#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why guest memory could not be opened or read.
public enum MemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The dump file does not exist.
    case missing(path: String)
    /// The file exists but could not be opened or mapped (errno).
    case unreadable(path: String, errno: Int32)
    /// The file is not a format vqscope reads; `reason` says what it is and what to do.
    case unsupportedFormat(path: String, reason: String)
    /// A structure in the dump is inconsistent (e.g. a program header pointing past the file).
    case malformed(path: String, offset: UInt64, reason: String)
    /// A guest-physical range is not (wholly) in the dump.
    case unmapped(address: UInt64, length: UInt64)
    /// `address + length` leaves the 64-bit address space.
    case addressOverflow(address: UInt64, length: UInt64)

    public var description: String {
        switch self {
        case .missing(let path): return "\(path): no such file"
        case .unreadable(let path, let code):
            return code == EISDIR ? "\(path): is a directory" : "\(path): cannot map (errno \(code))"
        case .unsupportedFormat(let path, let reason): return "\(path): \(reason)"
        case .malformed(let path, let offset, let reason): return "\(path): offset \(offset): \(reason)"
        case .unmapped(let address, let length):
            return "guest-physical 0x\(String(address, radix: 16))+\(length) is not in the dump"
        case .addressOverflow(let address, let length):
            return "guest-physical 0x\(String(address, radix: 16))+\(length) overflows 64 bits"
        }
    }
}
