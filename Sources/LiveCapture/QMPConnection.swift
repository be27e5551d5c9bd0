import FoundationEssentials
import GuestMemory
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// Why talking to QEMU over QMP failed.
public enum QMPError: Error, CustomStringConvertible {
    case cannotConnect(path: String, reason: String)
    case closed
    case timedOut(command: String)
    case failed(command: String, reply: String)

    public var description: String {
        switch self {
        case .cannotConnect(let path, let reason): "cannot connect to QMP at \(path): \(reason)"
        case .closed: "QEMU closed the QMP connection"
        case .timedOut(let command): "no QMP reply to \(command) within 5 s"
        case .failed(let command, let reply): "QMP \(command) failed: \(reply.prefix(200))"
        }
    }
}

/// A QMP client on QEMU's Unix socket: one command at a time, its reply read back, events
/// skipped. Every exchange is appended to a transcript (`qmp.jsonl` of the run directory),
/// which `vqscope inspect --qmp` reads like any saved transcript.
final class QMPConnection {
    private let socket: Int32
    private var buffer: [UInt8] = []
    private let transcript: UnsafeMutablePointer<FILE>?
    /// Replies longer than this are refused (a whole VM's status is under 1 MiB).
    static let maximumReply = 16 << 20

    /// Connects, reading the greeting and leaving capabilities negotiation done. Retries for
    /// up to `wait` seconds while QEMU creates the socket.
    init(path: String, transcript: String?, wait: Double) throws(QMPError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .cannotConnect(path: path, reason: "path too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let deadline = Self.now() + wait
        var connected: Int32 = -1
        var reason = ""
        while connected < 0 {
            let candidate = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(candidate, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if status == 0 {
                connected = candidate
            } else {
                reason = String(cString: strerror(errno))
                close(candidate)
                guard Self.now() < deadline else { throw .cannotConnect(path: path, reason: reason) }
                usleep(20_000)
            }
        }
        self.socket = connected
        self.transcript = transcript.flatMap { fopen($0, "a") }
        self.log(String(decoding: try self.readMessage(timeout: 5, command: "greeting"), as: UTF8.self))
        _ = try self.command("qmp_capabilities")
    }

    deinit {
        close(self.socket)
        if let transcript { fclose(transcript) }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Sends `{"execute": name, "arguments": …}` and returns the reply's raw JSON line.
    /// `logged`: whether the exchange goes into the transcript (the recorder's frequent
    /// status polls do not).
    @discardableResult
    func command(_ name: String, arguments: String? = nil, logged: Bool = true) throws(QMPError) -> [UInt8] {
        let text = "{\"execute\": \"\(name)\"" + (arguments.map { ", \"arguments\": \($0)" } ?? "") + "}"
        if logged { self.log(text) }
        let line = Array((text + "\n").utf8)
        var sent = 0
        while sent < line.count {
            // MSG_NOSIGNAL: QEMU may close the socket as it exits; that is an error here, not SIGPIPE.
            let count = line[sent...].withUnsafeBytes { send(self.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw .closed }
            sent += count
        }
        while true {
            let reply = try self.readMessage(timeout: 5, command: name)
            if logged { self.log(String(decoding: reply, as: UTF8.self)) }
            // Events (and anything else without a result) are skipped.
            if Self.contains(reply, "\"return\"") { return reply }
            if Self.contains(reply, "\"error\"") { throw .failed(command: name, reply: String(decoding: reply, as: UTF8.self)) }
        }
    }

    private func log(_ text: String) {
        guard let transcript else { return }
        fputs(text + "\n", transcript)
        fflush(transcript)
    }

    static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { start in bytes[start..<(start + needle.count)].elementsEqual(needle) }
    }

    /// One line from QEMU (QMP sends each message on its own line).
    private func readMessage(timeout: Double, command: String) throws(QMPError) -> [UInt8] {
        let deadline = Self.now() + timeout
        while true {
            if let newline = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(self.buffer[..<newline])
                self.buffer.removeSubrange(...newline)
                return line
            }
            guard self.buffer.count < Self.maximumReply else { throw .failed(command: command, reply: "reply over 16 MiB") }
            let left = deadline - Self.now()
            guard left > 0 else { throw .timedOut(command: command) }
            var descriptor = pollfd(fd: self.socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(left * 1000) + 1) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = read(self.socket, &chunk, chunk.count)
            guard count > 0 else { throw .closed }
            self.buffer += chunk[..<count]
        }
    }

    // MARK: - The virtio queries

    struct DeviceEntry: Decodable {
        var name: String
        var path: String
    }

    private struct Reply<Value: Decodable>: Decodable {
        var value: Value
        enum CodingKeys: String, CodingKey { case value = "return" }
    }

    func query<Value: Decodable>(
        _ name: String, arguments: String? = nil, logged: Bool = true, as type: Value.Type
    ) throws(QMPError) -> Value {
        let reply = try self.command(name, arguments: arguments, logged: logged)
        do {
            return try JSONDecoder().decode(Reply<Value>.self, from: Data(reply)).value
        } catch {
            throw .failed(command: name, reply: "unexpected reply: \(String(decoding: reply.prefix(200), as: UTF8.self))")
        }
    }
}
