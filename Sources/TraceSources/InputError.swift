/// Why a trace input could not be opened or read.
public enum InputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist.
    case missing(path: String)
    /// The file exists but could not be opened or read (errno).
    case unreadable(path: String, errno: Int32)
    /// The input is not a format vqscope reads; `hint` says what it looks like.
    case undecodable(path: String, offset: UInt64, reason: String)

    public var description: String {
        switch self {
        case .missing(let path): return "\(path): no such file"
        case .unreadable(let path, let code): return "\(path): cannot read (\(String(cString: strerror(code))))"
        case .undecodable(let path, let offset, let reason): return "\(path): offset \(offset): \(reason)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
