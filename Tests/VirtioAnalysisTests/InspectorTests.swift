import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// Memory-based findings under the rule IDs the trace side also uses.
struct InspectorTests {
    /// A clean one-chain queue; `descriptors`, `avail` and `used` replace the defaults.
    static func layout(descriptors: String? = nil, avail: String = #"{"idx": 1, "ring": [0]}"#, used: String = #"{"idx": 0}"#, size: Int = 8, indirect: String = "true") -> String {
        let chain = descriptors ?? """
            [{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 1},
             {"index": 1, "addr": "0x40009000", "len": 513, "flags": ["write"]}]
            """
        return """
            {"base": "0x40000000", "size": 65536, "indirect": \(indirect),
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": \(size)},
             "descriptors": \(chain), "avail": \(avail), "used": \(used)}
            """
    }

    static func rules(_ json: String) throws -> [String] {
        try MemoryFixture(json: json).inspect().findings.map(\.rule.id)
    }

    @Test("a clean queue: one owned chain, indices and byte counts")
    func clean() throws {
        let report = try MemoryFixture(json: Self.layout()).inspect()
        #expect(report.findings.isEmpty)
        let queue = try #require(report.queues.first)
        #expect(queue.availIndex == 1 && queue.usedIndex == 0 && queue.outstanding == 1 && queue.completedInRing == 0)
        #expect(queue.chains.first?.readableBytes == 16 && queue.chains.first?.writableBytes == 513)
    }

    @Test("chain defects map to the catalogue's rules", arguments: [
        (#"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 9}]"#, "SPLIT-NEXT-IN-RANGE"),
        (#"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 0}]"#, "SPLIT-CHAIN-NO-LOOP"),
        (#"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next", "write"], "next": 1}, {"index": 1, "addr": "0x40009000", "len": 16, "flags": []}]"#, "SPLIT-CHAIN-RW-ORDER"),
        (#"[{"index": 0, "addr": "0x40004000", "len": 24, "flags": ["indirect"]}]"#, "SPLIT-INDIRECT-LEN"),
        (#"[{"index": 0, "addr": "0x90000000", "len": 16, "flags": []}]"#, "FEAT-ACCESS_PLATFORM-ADDR"),
        (#"[{"index": 0, "addr": "0x40004000", "len": 4294967280, "flags": ["indirect"]}]"#, "FEAT-ACCESS_PLATFORM-ADDR"),
    ])
    func chainDefects(descriptors: String, rule: String) throws {
        #expect(try Self.rules(Self.layout(descriptors: descriptors)) == [rule])
    }

    @Test("INDIRECT without the feature is FEAT-INDIRECT-GATED")
    func indirectGated() throws {
        let descriptors = """
            [{"index": 0, "addr": "0x40004000", "len": 16, "flags": ["indirect"]},
             {"table": "0x40004000", "index": 0, "addr": "0x40008000", "len": 16, "flags": []}]
            """
        #expect(try Self.rules(Self.layout(descriptors: descriptors, indirect: "false")) == ["FEAT-INDIRECT-GATED"])
        #expect(try Self.rules(Self.layout(descriptors: descriptors, indirect: "true")) == [])
    }

    @Test("ring indices: a head out of range, more outstanding than the size, a used id out of range")
    func indices() throws {
        #expect(try Self.rules(Self.layout(avail: #"{"idx": 1, "ring": [12]}"#)) == ["SPLIT-HEAD-IN-RANGE"])
        // 9 outstanding in a queue of 8: the window rule; the 8 walked one-descriptor chains are fine.
        let single = #"[{"index": 0, "addr": "0x40008000", "len": 16, "flags": []}]"#
        #expect(try Self.rules(Self.layout(descriptors: single, avail: #"{"idx": 9, "ring": [0,1,2,3,4,5,6,7]}"#)) == ["SPLIT-AVAIL-IDX-WINDOW"])
        #expect(try Self.rules(Self.layout(avail: #"{"idx": 2, "ring": [0, 0]}"#, used: #"{"idx": 1, "ring": [[77, 4]]}"#)) == ["SPLIT-USED-ID-OWNED"])
    }

    @Test("used.idx ahead of avail.idx is SPLIT-USED-IDX-WINDOW, and no chain is treated as owned")
    func usedAhead() throws {
        let report = try MemoryFixture(json: Self.layout(avail: #"{"idx": 1, "ring": [0]}"#, used: #"{"idx": 3, "ring": [[0, 4], [0, 4], [0, 4]]}"#)).inspect()
        #expect(report.findings.map(\.rule.id) == ["SPLIT-USED-IDX-WINDOW"])
        #expect(report.queues.first?.outstanding == 0 && report.queues.first?.chains.isEmpty == true)
    }

    @Test("a head already back in the used ring is not walked as owned (out-of-order completion)")
    func completedOutOfOrder() throws {
        // Heads 0..3 offered; the device returned 2 then 0 (used.idx 2 of avail.idx 4): 1 and 3
        // are owned, but only the last two offers (2, 3) are certainly recent, and 2 is back.
        let descriptors = """
            [{"index": 0, "addr": "0x40008000", "len": 16, "flags": []},
             {"index": 1, "addr": "0x40008100", "len": 16, "flags": []},
             {"index": 2, "addr": "0x40008200", "len": 16, "flags": ["next"], "next": 2},
             {"index": 3, "addr": "0x40008300", "len": 16, "flags": []}]
            """
        let json = Self.layout(descriptors: descriptors, avail: #"{"idx": 4, "ring": [0, 1, 2, 3]}"#, used: #"{"idx": 2, "ring": [[2, 0], [0, 0]]}"#)
        let report = try MemoryFixture(json: json).inspect()
        // Head 2's stale self-loop is not reported: it is back with the driver.
        #expect(report.findings.isEmpty)
        #expect(report.queues.first?.chains.map(\.head) == [3])
    }

    @Test("a chain longer than the queue size names its length and the limit")
    func tooLong() throws {
        // Queue size 2; one indirect descriptor whose table holds 3 descriptors.
        let descriptors = """
            [{"index": 0, "addr": "0x40004000", "len": 48, "flags": ["indirect"]},
             {"table": "0x40004000", "index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 1},
             {"table": "0x40004000", "index": 1, "addr": "0x40008100", "len": 16, "flags": ["next"], "next": 2},
             {"table": "0x40004000", "index": 2, "addr": "0x40008200", "len": 16, "flags": []}]
            """
        let report = try MemoryFixture(json: Self.layout(descriptors: descriptors, size: 2)).inspect()
        #expect(report.findings.map(\.rule.id) == ["SPLIT-CHAIN-MAX-LEN"])
        #expect(report.findings.first?.message.contains("3 descriptors, more than 2") == true)
    }

    /// One owned chain on queue `index` of a `device`, with `features` and `bytes` at 0x40008000.
    static func request(
        _ device: String, index: Int = 0, features: [String]? = nil, descriptors: String, header: [UInt8] = [],
        netControlQueue: Int? = nil, mtu: Int? = nil
    ) -> String {
        let featureList = features.map { "[" + $0.map { "\"\($0)\"" }.joined(separator: ", ") + "]" } ?? "null"
        let control = netControlQueue.map { #""netControlQueue": \#($0), "# } ?? ""
        let mtu = mtu.map { #""mtu": \#($0), "# } ?? ""
        return """
            {"base": "0x40000000", "size": 65536, "device": "\(device)", \(control)\(mtu)"features": \(featureList),
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": 8, "index": \(index)},
             "descriptors": \(descriptors), "avail": {"idx": 1, "ring": [0]}, "used": {"idx": 0},
             "bytes": [{"addr": "0x40008000", "values": \(header)}]}
            """
    }

    /// One descriptor at 0x40008000 (`write` or not), or a readable 16-byte header at 0x40008000
    /// followed by `data` and a 1-byte status (a block request).
    static func single(length: Int, write: Bool) -> String {
        #"[{"index": 0, "addr": "0x40008000", "len": \#(length), "flags": [\#(write ? #""write""# : "")]}]"#
    }

    /// Two device-writable descriptors: 0, linking to `next`.
    static func writablePair(next: Int) -> String {
        """
        [{"index": 0, "addr": "0x40008000", "len": 32, "flags": ["next", "write"], "next": \(next)},
         {"index": \(next), "addr": "0x40009000", "len": 32, "flags": ["write"]}]
        """
    }

    /// The features of a net device that negotiated VIRTIO_NET_F_MTU.
    static let mtu = ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_MTU"]
    /// A 12-byte virtio_net_hdr, then an Ethernet header with an 802.1Q tag (TPID 0x8100).
    static let vlan = [UInt8](repeating: 0, count: 24) + [0x81, 0x00]

    /// The features of a net device with a control queue.
    static let control = ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_CTRL_VQ"]

    /// A control request: `readable` bytes at 0x40008000 (class, command, data), then the ack.
    static func control(readable: Int) -> String {
        """
        [{"index": 0, "addr": "0x40008000", "len": \(readable), "flags": ["next"], "next": 1},
         {"index": 1, "addr": "0x4000a000", "len": 1, "flags": ["write"]}]
        """
    }

    static func block(data: Int, dataWritable: Bool) -> String {
        let dataFlags = dataWritable ? #""next", "write""# : #""next""#
        return """
            [{"index": 0, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 1},
             {"index": 1, "addr": "0x40009000", "len": \(data), "flags": [\(dataFlags)], "next": 2},
             {"index": 2, "addr": "0x4000a000", "len": 1, "flags": ["write"]}]
            """
    }

    @Test("request contents by device type and queue role", arguments: [
        // entropy: device-writable only
        (request("rng", descriptors: single(length: 64, write: false)), ["RNG-WRITABLE-ONLY"]),
        (request("rng", descriptors: single(length: 64, write: true)), []),
        // net: receiveq writable only, transmitq readable only (queue 0 rx, 1 tx)
        (request("net", index: 0, descriptors: single(length: 1600, write: false)), ["NET-RX-WRITABLE-ONLY"]),
        (request("net", index: 1, descriptors: single(length: 1600, write: true)), ["NET-TX-READABLE-ONLY"]),
        // console: even queues receive, odd transmit
        (request("console", index: 2, descriptors: single(length: 64, write: false)), ["CONS-RX-WRITABLE"]),
        (request("console", index: 5, descriptors: single(length: 64, write: true)), ["CONS-TX-READABLE"]),
        // input eventq: writable and at least 8 bytes
        (request("input", index: 0, descriptors: single(length: 4, write: true)), ["INPUT-EVENTQ-BUFS"]),
        (request("input", index: 0, descriptors: single(length: 8, write: true)), []),
        // block: header, data, status
        (request("blk", descriptors: single(length: 16, write: false), header: [1, 0, 0, 0]), ["BLK-FRAME"]),
        (request("blk", descriptors: block(data: 512, dataWritable: true), header: [0, 0, 0, 0]), []),
        (request("blk", descriptors: block(data: 512, dataWritable: false), header: [0, 0, 0, 0]), ["BLK-FRAME"]),
        (request("blk", descriptors: block(data: 100, dataWritable: false), header: [1, 0, 0, 0]), ["BLK-DATA-512"]),
        (request("blk", features: ["VIRTIO_F_VERSION_1"], descriptors: block(data: 0, dataWritable: false), header: [4, 0, 0, 0]), ["BLK-TYPE-GATED"]),
        (request("blk", features: ["VIRTIO_F_VERSION_1", "VIRTIO_BLK_F_FLUSH"], descriptors: block(data: 0, dataWritable: false), header: [4, 0, 0, 0]), []),
        (request("blk", descriptors: block(data: 0, dataWritable: false), header: [4, 0, 0, 0]), []),  // features unknown
        // net header and receive buffer sizes, with the features known
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1"], descriptors: single(length: 10, write: false)), ["NET-HDR-SIZE"]),
        (request("net", index: 1, features: [], descriptors: single(length: 10, write: false)), []),  // legacy: 10 bytes
        (request("net", index: 0, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_MRG_RXBUF"], descriptors: single(length: 8, write: true)), ["NET-RX-BUF-MIN"]),
        (request("net", index: 0, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_MRG_RXBUF"], descriptors: single(length: 12, write: true)), []),
        (request("net", index: 0, features: ["VIRTIO_F_VERSION_1"], descriptors: single(length: 1000, write: true)), ["NET-RX-BUF-ADVISED"]),
        (request("net", index: 0, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_GUEST_TSO4"], descriptors: single(length: 1526, write: true)), ["NET-RX-BUF-ADVISED"]),
        (request("net", index: 0, features: ["VIRTIO_F_VERSION_1"], descriptors: single(length: 1526, write: true)), []),
        // transmitted virtio_net_hdr fields: flags, gso_type
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1"], descriptors: single(length: 74, write: false), header: [1, 0]), ["NET-TX-FLAGS"]),
        (request("net", index: 1, descriptors: single(length: 74, write: false), header: [4, 0]), ["NET-TX-FLAGS"]),  // RSC_INFO, features unknown
        (request("net", index: 1, descriptors: single(length: 74, write: false), header: [1, 0]), []),  // features unknown
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_CSUM", "VIRTIO_NET_F_HOST_TSO6"], descriptors: single(length: 74, write: false), header: [1, 4, 0, 0, 0xa8, 5]), []),
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_CSUM", "VIRTIO_NET_F_HOST_TSO6"], descriptors: single(length: 74, write: false), header: [1, 0x84, 0, 0, 0xa8, 5]), ["NET-TX-GSO-GATED"]),  // ECN
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_CSUM"], descriptors: single(length: 74, write: false), header: [1, 5, 0, 0, 0xa8, 5]), ["NET-TX-GSO-GATED"]),  // UDP_L4
        // segmentation needs NEEDS_CSUM and gso_size, features known or not
        (request("net", index: 1, descriptors: single(length: 74, write: false), header: [1, 4]), ["NET-TX-GSO-CSUM"]),
        (request("net", index: 1, descriptors: single(length: 74, write: false), header: [0, 0x80, 0, 0, 0xa8, 5]), ["NET-TX-GSO-CSUM"]),  // the ECN bit alone
        // the checksum's 2 bytes end within the 62-byte packet (74 less the 12-byte header)
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_CSUM"], descriptors: single(length: 74, write: false), header: [1, 0, 0, 0, 0, 0, 44, 0, 16, 0]), []),
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1", "VIRTIO_NET_F_CSUM"], descriptors: single(length: 74, write: false), header: [1, 0, 0, 0, 0, 0, 45, 0, 16, 0]), ["NET-TX-CSUM-RANGE"]),
        (request("net", index: 1, features: [], descriptors: single(length: 74, write: false), header: [1, 0, 0, 0, 0, 0, 45, 0, 16, 0]), ["NET-TX-FLAGS"]),  // legacy 10-byte header: 64 bytes hold it
        (request("net", index: 1, descriptors: single(length: 74, write: false), header: [1, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), []),  // features unknown: no packet length
        // num_buffers, where the header has it
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1"], descriptors: single(length: 74, write: false), header: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), ["NET-TX-NUMBUF-ZERO"]),
        (request("net", index: 1, features: ["VIRTIO_NET_F_MRG_RXBUF"], descriptors: single(length: 74, write: false), header: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), ["NET-TX-NUMBUF-ZERO"]),
        (request("net", index: 1, features: [], descriptors: single(length: 74, write: false), header: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), []),  // legacy: bytes 10-11 are the packet's
        // mtu 1400 negotiated: 1400 bytes after the Ethernet header (14, 18 with an 802.1Q tag)
        (request("net", index: 1, features: mtu, descriptors: single(length: 12 + 1414, write: false), mtu: 1400), []),
        (request("net", index: 1, features: mtu, descriptors: single(length: 12 + 1415, write: false), mtu: 1400), ["NET-TX-MTU"]),
        (request("net", index: 1, features: mtu, descriptors: single(length: 12 + 1418, write: false), header: vlan, mtu: 1400), []),
        (request("net", index: 1, features: mtu, descriptors: single(length: 12 + 1419, write: false), header: vlan, mtu: 1400), ["NET-TX-MTU"]),
        (request("net", index: 1, features: ["VIRTIO_F_VERSION_1"], descriptors: single(length: 12 + 1415, write: false), mtu: 1400), []),  // not negotiated
        (request("net", index: 1, features: mtu, descriptors: single(length: 12 + 1415, write: false)), []),  // mtu not known
        // TCPV4 segmentation (NEEDS_CSUM, gso_size 1360): the device cuts it to size
        (request("net", index: 1, features: mtu + ["VIRTIO_NET_F_CSUM", "VIRTIO_NET_F_HOST_TSO4"], descriptors: single(length: 12 + 2014, write: false),
                 header: [1, 1, 54, 0, 0x50, 5, 34, 0, 16, 0, 0, 0], mtu: 1400), []),
        // IN_ORDER: descriptor x links to x + 1
        (request("rng", features: ["VIRTIO_F_VERSION_1", "VIRTIO_F_IN_ORDER"], descriptors: writablePair(next: 1)), []),
        (request("rng", features: ["VIRTIO_F_VERSION_1", "VIRTIO_F_IN_ORDER"], descriptors: writablePair(next: 3)), ["SPLIT-IN_ORDER-NEXT"]),
        (request("rng", features: ["VIRTIO_F_VERSION_1"], descriptors: writablePair(next: 3)), []),  // not negotiated
        (request("rng", descriptors: writablePair(next: 3)), []),  // features unknown
        // FLUSH: sector 0, no data
        (request("blk", features: ["VIRTIO_F_VERSION_1", "VIRTIO_BLK_F_FLUSH"], descriptors: block(data: 0, dataWritable: false), header: [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), ["BLK-FLUSH"]),
        (request("blk", descriptors: block(data: 512, dataWritable: true), header: [4, 0, 0, 0]), ["BLK-FLUSH-DATA"]),
        (request("blk", descriptors: block(data: 8, dataWritable: false), header: [4, 0, 0, 0]), ["BLK-FLUSH-DATA"]),
        // GET_ID: exactly 20 device-writable data bytes
        (request("blk", descriptors: block(data: 20, dataWritable: true), header: [8, 0, 0, 0]), []),
        (request("blk", descriptors: block(data: 512, dataWritable: true), header: [8, 0, 0, 0]), ["BLK-GET_ID-LEN"]),
        (request("blk", descriptors: block(data: 20, dataWritable: false), header: [8, 0, 0, 0]), ["BLK-GET_ID-LEN"]),
        // net control requests on queue 2: class, command and data in one descriptor
        (request("net", index: 2, features: control + ["VIRTIO_NET_F_CTRL_RX"], descriptors: control(readable: 12), header: [1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0], netControlQueue: 2), ["NET-CTRL-MAC-TABLE"]),  // 2^32-1 addresses announced
        (request("net", index: 2, features: control + ["VIRTIO_NET_F_CTRL_RX"], descriptors: control(readable: 16), header: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x33, 0x33, 0, 0, 0, 1], netControlQueue: 2), []),
        (request("net", index: 2, features: control + ["VIRTIO_NET_F_CTRL_RX"], descriptors: control(readable: 3), header: [0, 5, 1], netControlQueue: 2), ["NET-CTRL-GATED"]),  // NOBCAST needs CTRL_RX_EXTRA
        (request("net", index: 2, features: control, descriptors: control(readable: 4), header: [2, 0, 5, 0], netControlQueue: 2), []),  // VLAN_ADD: no driver requirement stated
        (request("net", index: 2, features: control, descriptors: control(readable: 2), header: [4, 1], netControlQueue: 2), ["NET-CTRL-GATED"]),  // MQ_RSS_CONFIG without RSS
        (request("net", index: 2, features: control, descriptors: control(readable: 10), header: [5, 0, 0, 0, 0, 0, 0, 0, 0, 0x80], netControlQueue: 2), []),  // bit 63 is no offload
    ])
    func requestContents(layout: String, rules: [String]) throws {
        #expect(try Self.rules(layout) == rules)
    }

    @Test("each owned chain's request, decoded for people", arguments: [
        // blk IN, sector 8 (le64 at offset 8 of the header), 512 data bytes + status
        (request("blk", descriptors: block(data: 512, dataWritable: true), header: [0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]),
         "blk READ sector 8 len 512"),
        (request("blk", descriptors: block(data: 4096, dataWritable: false), header: [1, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x27, 0, 0, 0, 0, 0, 0]),
         "blk WRITE sector 10000 len 4096"),
        // net TX: 12-byte header, then an Ethernet frame: IPv4 (0x0800), protocol 1 at byte 23
        (request("net", index: 1, descriptors: single(length: 110, write: false),
                 header: [UInt8](repeating: 0, count: 12) + [UInt8](repeating: 0xFF, count: 12) + [0x08, 0x00] + [UInt8](repeating: 0, count: 9) + [1]),
         "net TX 98-byte ICMP"),
        (request("net", index: 1, descriptors: single(length: 54, write: false),
                 header: [UInt8](repeating: 0, count: 24) + [0x08, 0x06]), "net TX 42-byte ARP"),
        (request("net", index: 0, descriptors: single(length: 1536, write: true)), "net RX buffer 1536 bytes"),
        (request("rng", descriptors: single(length: 64, write: true)), "rng buffer 64 bytes"),
        // A zero-length readable descriptor before the header hides nothing.
        (request("blk", descriptors: """
            [{"index": 0, "addr": "0x40007000", "len": 0, "flags": ["next"], "next": 1},
             {"index": 1, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 2},
             {"index": 2, "addr": "0x40009000", "len": 512, "flags": ["next", "write"], "next": 3},
             {"index": 3, "addr": "0x4000a000", "len": 1, "flags": ["write"]}]
            """, header: [0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]), "blk READ sector 8 len 512"),
    ])
    func requestDescriptions(layout: String, description: String) throws {
        let report = try MemoryFixture(json: layout).inspect()
        #expect(report.queues.first?.requests == [description])
    }

    @Test("without a device type, request contents are not judged")
    func noDeviceType() throws {
        let layout = Self.request("rng", descriptors: Self.single(length: 64, write: false))
            .replacingOccurrences(of: #""device": "rng", "#, with: "")
        #expect(try Self.rules(layout) == [])
    }

    @Test("a packed queue: the ring and event suppression decoded, descriptors counted by their flags")
    func packed() throws {
        let text = try #require(Fixtures.text("traces/rules/PACKED-ALIGN/clean.handwritten.json"))
        let report = try MemoryFixture(json: text).inspect()
        #expect(report.findings.isEmpty)
        let queue = try #require(report.queues.first)
        #expect(queue.isPacked && queue.availIndex == nil && queue.chains.isEmpty)
        let packed = try #require(queue.packed)
        #expect(packed.availableLooking == 1 && packed.usedLooking == 1 && packed.descriptors.count == 8)
        #expect(packed.descriptors[1].bufferID == 1 && packed.descriptors[0].length == 512)
        #expect(packed.driverEvent.wrapCounter && packed.driverEvent.mode == .enable)
        // The same ring moved to the end of the 64 KiB image (its descriptors left out) is
        // outside the dump.
        let outside = text.replacingOccurrences(of: #""desc": "0x40001000""#, with: #""desc": "0x40010000""#)
        let moved = try MemoryFixture(json: outside.replacingOccurrences(of: "\"descriptors\": [", with: "\"unused\": ["))
        let unmapped = try moved.inspect()
        #expect(unmapped.findings.map(\.rule.id) == ["FEAT-ACCESS_PLATFORM-ADDR"])
        #expect(unmapped.queues.first?.packed == nil)
    }

    /// A packed ring of 8 slots at the device's position `position`, each slot given as
    /// `(AVAIL, USED, NEXT)`; a writable 64-byte buffer per slot, Buffer ID = slot.
    static func packedRing(position: Int, _ slots: [(Bool, Bool, Bool)], device: String? = nil) -> String {
        let descriptors = slots.enumerated().map { slot, bits in
            let flags = ["\"write\""] + (bits.0 ? ["\"avail\""] : []) + (bits.1 ? ["\"used\""] : []) + (bits.2 ? ["\"next\""] : [])
            return #"{"index": \#(slot), "addr": "0x\#(String(0x4000_8000 + slot * 0x100, radix: 16))", "len": 64, "id": \#(slot), "flags": [\#(flags.joined(separator: ", "))]}"#
        }
        return """
            {"base": "0x40000000", "size": 65536, "packed": true, "lastAvailIdx": \(position),
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": \(slots.count)},
             \(device.map { #""device": "\#($0)", "# } ?? "")"descriptors": [\(descriptors.joined(separator: ", "))]}
            """
    }

    @Test("packed lists are walked from the device's position, across the ring's end, with the wrap counter read off the ring")
    func packedLists() throws {
        let (a, u, n) = (true, true, true)
        // Lap 1 used up to slot 5; slots 6–7 available in lap 1 (AVAIL 1) as one list that goes
        // on into slot 0 of lap 2 (AVAIL 0, USED 1); slot 1 a list of its own; slot 2 still used.
        let wrapped = Self.packedRing(position: 6, [
            (!a, u, !n), (!a, u, !n), (a, u, !n), (a, u, !n), (a, u, !n), (a, u, !n), (a, !u, n), (a, !u, n),
        ], device: "rng")
        let report = try MemoryFixture(json: wrapped).inspect()
        #expect(report.findings.isEmpty)
        let queue = try #require(report.queues.first)
        #expect(queue.chains.map(\.head) == [6, 1] && queue.chains.map(\.tableIndices) == [[6, 7, 0], [1]])
        #expect(queue.chains.map(\.bufferID) == [0, 1] && queue.chains.map(\.writableBytes) == [192, 64])
        #expect(queue.requests == ["rng buffer 192 bytes", "rng buffer 64 bytes"])

        // The driver filled the whole ring: from slot 3 (AVAIL 1) over the end into slots 0–2
        // (AVAIL 0). The slot before the position already belongs to the next lap.
        let full = Self.packedRing(position: 3, [
            (!a, u, !n), (!a, u, !n), (!a, u, !n), (a, !u, !n), (a, !u, !n), (a, !u, !n), (a, !u, !n), (a, !u, !n),
        ])
        #expect(try MemoryFixture(json: full).inspect().queues.first?.chains.map(\.head) == [3, 4, 5, 6, 7, 0, 1, 2])

        // Lap 2 (counter 0) used slots 0–4; slot 5 is the stale tail of a lap-1 list (AVAIL 1,
        // USED 0): it looks available, but not in the device's lap. Nothing is walked.
        let stale = Self.packedRing(position: 5, [
            (!a, !u, !n), (!a, !u, !n), (!a, !u, !n), (!a, !u, !n), (!a, !u, !n), (a, !u, !n), (a, u, !n), (a, u, !n),
        ])
        let staleReport = try MemoryFixture(json: stale).inspect()
        #expect(staleReport.findings.isEmpty && staleReport.queues.first?.chains.isEmpty == true)

        // Without the device's position (no QMP), the ring is decoded, not walked.
        let unknown = try MemoryFixture(json: wrapped.replacingOccurrences(of: #""lastAvailIdx": 6,"#, with: "")).inspect()
        #expect(unknown.queues.first?.chains.isEmpty == true && unknown.queues.first?.packed != nil)
    }

    @Test("a packed list marked NEXT in every slot: one PACKED-LIST-LEN, the walk bounded by the ring")
    func packedEndlessList() throws {
        let endless = Self.packedRing(position: 0, Array(repeating: (true, false, true), count: 8))
        let report = try MemoryFixture(json: endless).inspect()
        #expect(report.findings.map(\.rule.id) == ["PACKED-LIST-LEN"])
        #expect(report.queues.first?.chains.map(\.tableIndices.count) == [8])
    }

    @Test("a completed chain through an indirect table is undecided: the driver freed the table, whose memory (zeroed here, as a later allocation of Linux's left it) says nothing; one without is judged")
    func completedIndirectChain() throws {
        // Head 0: an INDIRECT descriptor to a table now zeroed, its used element 4097 bytes
        // (a CI dump showed this); head 1: a direct 16-byte buffer, its used element 32 bytes.
        let layout = """
            {"base": "0x40000000", "size": 65536, "indirect": true,
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": 8},
             "descriptors": [{"index": 0, "addr": "0x40009000", "len": 48, "flags": ["indirect"]},
                             {"index": 1, "addr": "0x40008000", "len": 16, "flags": ["write"]}],
             "avail": {"idx": 2, "ring": [0, 1]},
             "used": {"idx": 2, "ring": [[0, 4097], [1, 32]]}}
            """
        let report = try MemoryFixture(json: layout).inspect()
        let queue = try #require(report.queues.first)
        #expect(queue.completed.map(\.element.id) == [1] && queue.undecidedCompletions == 1)
        #expect(report.findings.map(\.message) == ["used element 1 (head 1) reports 32 bytes written, the chain has 16 writable"])
    }

    @Test("completed chains are judged only when no newer chain took their head, descriptors or buffers")
    func completedChains() throws {
        // Used, oldest first: head 2, head 1 (len 9999), head 2 again, head 0 (len 600 > 512).
        // Head 1's buffer overlaps head 0's (newer); head 2's overlaps owned head 3's.
        let layout = """
            {"base": "0x40000000", "size": 65536,
             "queue": {"desc": "0x40001000", "avail": "0x40002000", "used": "0x40003000", "size": 8},
             "descriptors": [{"index": 0, "addr": "0x40008000", "len": 512, "flags": ["write"]},
                             {"index": 1, "addr": "0x40008100", "len": 256, "flags": ["write"]},
                             {"index": 2, "addr": "0x4000a020", "len": 64, "flags": ["write"]},
                             {"index": 3, "addr": "0x4000a000", "len": 64, "flags": ["write"]}],
             "avail": {"idx": 5, "ring": [2, 1, 2, 0, 3]},
             "used": {"idx": 4, "ring": [[2, 10], [1, 9999], [2, 10], [0, 600]]}}
            """
        let report = try MemoryFixture(json: layout).inspect()
        let queue = try #require(report.queues.first)
        #expect(queue.chains.map(\.head) == [3])
        #expect(queue.completed.map(\.usedIndex) == [3] && queue.completed.map(\.element.id) == [0])
        #expect(queue.undecidedCompletions == 3 && queue.completedInRing == 4)
        #expect(report.findings.map(\.rule.id) == ["SPLIT-USED-LEN-BOUND"])
        // Without the owned chain and the overlapping buffer, the other completions are judged.
        let apart = layout.replacingOccurrences(of: #""0x4000a020""#, with: #""0x4000c000""#)
            .replacingOccurrences(of: #""0x40008100""#, with: #""0x40008200""#)
        let judged = try #require(try MemoryFixture(json: apart).inspect().queues.first)
        #expect(judged.completed.map(\.usedIndex) == [1, 2, 3] && judged.undecidedCompletions == 1)
    }

    @Test("queue sizes 0 and 65535, and rings past the end of a small image: findings, no reads")
    func absurdSizes() throws {
        // 0: not a valid size, nothing to map. 65535: not a power of two, and its 1 MiB
        // descriptor table does not fit in the 64 KiB image.
        #expect(try Self.rules(Self.layout(size: 0)) == ["SPLIT-QSIZE-POW2"])
        let huge = try MemoryFixture(json: Self.layout(size: 65_535)).inspect()
        #expect(huge.findings.map(\.rule.id) == ["SPLIT-QSIZE-POW2", "SPLIT-NO-OVERLAP", "SPLIT-NO-OVERLAP", "SPLIT-SIZES"])
        #expect(huge.queues.first?.chains.isEmpty == true && huge.queues.first?.availIndex == nil)
    }

    /// A queue of `size` whose descriptor i links to i + 1 (the last to `size`, out of range),
    /// with `heads` in the available ring, all outstanding.
    static func longChains(size: Int, heads: [Int]) throws -> InspectionReport {
        var descriptors: [String] = []
        for index in 0..<size {
            descriptors.append(#"{"index": \#(index), "addr": "0x8000", "len": 1, "flags": ["next"], "next": \#(index + 1)}"#)
        }
        let json = """
            {"base": "0x0", "size": \(0x10000 + 16 * size), "indirect": true,
             "queue": {"desc": "0x10000", "avail": "0x1000", "used": "0x4000", "size": \(size)},
             "descriptors": [\(descriptors.joined(separator: ","))],
             "avail": {"idx": \(heads.count), "ring": \(heads)}, "used": {"idx": 0}}
            """
        return try MemoryFixture(json: json).inspect()
    }

    @Test("a hostile ring costs a bounded walk: each head once, a per-queue budget of descriptors")
    func walkBudget() throws {
        // 4095 offers of head 0: walked once, the repeats are SPLIT-CHAINS-DISJOINT.
        let repeated = try Self.longChains(size: 4096, heads: Array(repeating: 0, count: 4095))
        let queue = try #require(repeated.queues.first)
        #expect(queue.chains.count == 1 && queue.chains.first?.elements.count == 4096)
        #expect(repeated.findingCounts["SPLIT-CHAINS-DISJOINT"] == 4094)
        #expect(repeated.findingCounts["SPLIT-NEXT-IN-RANGE"] == 1)
        // 4095 distinct heads, each walking to the end: about 8.4 million descriptors unbounded.
        let distinct = try Self.longChains(size: 4096, heads: Array(0..<4095))
        let walked = try #require(distinct.queues.first)
        let total = walked.chains.reduce(0) { $0 + $1.elements.count + 1 }
        #expect(walked.unwalkedHeads > 0 && walked.chains.count + walked.unwalkedHeads == 4095)
        #expect(total >= Inspector.Limits.descriptorsPerQueue && total < Inspector.Limits.descriptorsPerQueue + 4097)
    }

    @Test("after used.idx wraps past 65535, every used slot counts as written")
    func wrappedUsedIndex() throws {
        // used.idx 1 after a wrap: slot 2 still holds head 3's earlier completion, so head 3
        // (re-offered or not) is not taken as owned; head 4 is; head 9 in slot 5 is out of range.
        let descriptors = """
            [{"index": 3, "addr": "0x40008000", "len": 16, "flags": ["next"], "next": 3},
             {"index": 4, "addr": "0x40008100", "len": 16, "flags": ["write"]}]
            """
        let json = Self.layout(
            descriptors: descriptors, avail: #"{"idx": 3, "ring": [1, 3, 4]}"#,
            used: #"{"idx": 1, "ring": [[5, 0], [0, 0], [3, 16], [0, 0], [0, 0], [9, 1]]}"#)
        let report = try MemoryFixture(json: json).inspect()
        #expect(report.queues.first?.chains.map(\.head) == [4])
        #expect(report.findings.map(\.rule.id) == ["SPLIT-USED-ID-OWNED"])
        #expect(report.queues.first?.recentUsed.map(\.slot) == [1, 2, 3, 4, 5, 6, 7, 0])
        #expect(report.queues.first?.completedInRing == 8)
    }

    @Test("rings outside the dump are reported, and nothing is walked")
    func unmappedRings() throws {
        let json = Self.layout(used: "null").replacingOccurrences(of: #""used": "0x40003000""#, with: #""used": "0x5000000""#)
        let report = try MemoryFixture(json: json).inspect()
        #expect(report.findings.map(\.rule.id) == ["SPLIT-SIZES"])
        #expect(report.queues.first?.chains.isEmpty == true && report.queues.first?.availIndex == nil)
    }
}
