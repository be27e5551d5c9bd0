#if canImport(Glibc)
import Glibc
#endif

/// Event declarations from a QEMU build's `trace-events` / `trace-events-all` file
/// (`--trace-events FILE`): for a `simple` trace, where each event's arguments sit and which are
/// strings, when a build declares an event vqscope decodes differently from QEMU 7.2–10.x.
///
/// A declaration is `[properties] name(type arg, …) "format"` on one line (`void` for none);
/// `#` starts a comment; the properties (`disable`, `vcpu`, …) are skipped. A parameter whose
/// type holds `char` and one `*` is a string (the simple backend writes its length and bytes),
/// anything else a `u64`.
public struct TraceEventsFile: Sendable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var isString: Bool

        public init(name: String, isString: Bool) {
            self.name = name
            self.isString = isString
        }
    }

    /// Each declared event's parameters, in order, by event name.
    public private(set) var events: [String: [Parameter]] = [:]

    public init(declarations: [String: [Parameter]]) { self.events = declarations }

    /// Reads a file of declarations; lines that are not one are skipped. At most 16 MiB.
    public init(path: String) throws(InputError) {
        guard let file = fopen(path, "r") else {
            throw errno == ENOENT ? .missing(path: path) : .unreadable(path: path, errno: errno)
        }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        var total = 0
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            total += text.utf8.count
            guard total <= 16 << 20 else {
                throw .undecodable(path: path, offset: UInt64(total), reason: "more than 16 MiB of trace-events declarations")
            }
            if let (name, parameters) = Self.declaration(text) { self.events[name] = parameters }
        }
    }

    /// `virtqueue_pop(void *vq, void *elem, unsigned int in_num, unsigned int out_num) "…"`.
    static func declaration(_ line: String) -> (String, [Parameter])? {
        let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard let open = code.firstIndex(of: "("), let close = code[open...].firstIndex(of: ")") else { return nil }
        guard let name = code[..<open].split(separator: " ").last.map(String.init), !name.isEmpty,
            name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { return nil }
        let list = code[code.index(after: open)..<close].trimmingSpaces
        guard list != "void", !list.isEmpty else { return (name, []) }
        let parameters = list.split(separator: ",").map { part -> Parameter in
            let words = part.split(whereSeparator: { $0 == " " || $0 == "*" })
            let stars = part.filter { $0 == "*" }.count
            return Parameter(name: words.last.map(String.init) ?? "", isString: part.contains("char") && stars == 1)
        }
        return (name, parameters)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

/// How to read one event's arguments from a simple trace record, from its declaration: which
/// declared positions are strings, and which declared position each of the arguments vqscope
/// expects (in QEMU 7.2's order) comes from.
struct EventSignature: Sendable {
    /// For each declared parameter: a string (true) or a `u64`.
    var strings: [Bool]
    /// For each number vqscope's decoder expects, in its order: the index among the declared
    /// numeric parameters.
    var order: [Int]

    /// The parameter names of QEMU 7.2's declarations of the events decoded by position.
    static let expected: [String: [String]] = [
        "virtqueue_alloc_element": ["elem", "sz", "in_num", "out_num"],
        "virtqueue_pop": ["vq", "elem", "in_num", "out_num"],
        "virtqueue_fill": ["vq", "elem", "len", "idx"],
        "virtqueue_flush": ["vq", "count"],
        "virtio_queue_notify": ["vdev", "n", "vq"],
        "virtio_notify": ["vdev", "vq"],
        "virtio_notify_irqfd": ["vdev", "vq"],
        "virtio_notify_irqfd_deferred_fn": ["vdev", "vq"],
        "virtio_set_status": ["vdev", "val"],
        "virtio_blk_req_complete": ["vdev", "req", "status"],
        "virtio_blk_rw_complete": ["vdev", "req", "ret"],
        "virtio_blk_handle_read": ["vdev", "req", "sector", "nsectors"],
        "virtio_blk_handle_write": ["vdev", "req", "sector", "nsectors"],
        "virtio_mmio_write_offset": ["offset", "value"],
        "virtio_mmio_queue_write": ["value", "max_size"],
        "virtio_mmio_guest_page": ["size", "shift"],
    ]

    /// The signature of `name` from its declaration; nil when the declaration does not name
    /// every parameter vqscope expects (then the built-in order is used).
    init?(name: String, parameters: [TraceEventsFile.Parameter]) {
        self.strings = parameters.map(\.isString)
        let numeric = parameters.filter { !$0.isString }.map(\.name)
        guard let expected = Self.expected[name] else {
            // Events without a table entry keep the declared order of their numbers.
            self.order = Array(numeric.indices)
            return
        }
        var order: [Int] = []
        for wanted in expected {
            guard let position = numeric.firstIndex(of: wanted) else { return nil }
            order.append(position)
        }
        self.order = order
    }
}
