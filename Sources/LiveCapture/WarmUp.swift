import GuestMemory
import VirtioModel

#if canImport(Glibc)
import Glibc
#endif

/// Runs the sampler's reading and recording code once, on rings of its own in a scratch
/// memory file and into `/dev/null`, before any guest queue is watched.
///
/// The first chain of a kind the sampler reads otherwise pays for the first use of that code
/// (the runtime's type metadata, lazily built tables, code pages): SeaBIOS's first disk read,
/// the first chain of the run, took 200–400 µs to record where later ones take a few (its walk
/// 14–22 µs, its request checks 78–128, the used ring read again 62–177, in three release
/// runs). QEMU completed it meanwhile, in every bench run, so it was recorded as read late;
/// on a packed ring, where the device's used descriptor overwrites a list's first descriptor,
/// such a list is lost.
enum WarmUp {
    /// One kind of chain: a queue of a device type, its descriptors (`write`: device-writable)
    /// and the length the device returns.
    private struct Kind {
        var type: DeviceType
        var queue: Int
        var descriptors: [(address: UInt64, length: UInt32, write: Bool)]
        var used: UInt32
    }

    /// A request of each kind Linux, U-Boot and SeaBIOS make: a block read, net transmit,
    /// receive and control, console receive, transmit and control, an entropy request.
    private static let kinds = [
        Kind(type: .block, queue: 0, descriptors: [(0x8000, 16, false), (0x9000, 512, true), (0x8010, 1, true)], used: 513),
        Kind(type: .network, queue: 0, descriptors: [(0xA000, 1526, true)], used: 72),
        Kind(type: .network, queue: 1, descriptors: [(0xB000, 72, false)], used: 0),
        Kind(type: .network, queue: 2, descriptors: [(0x8100, 2, false), (0x8110, 6, false), (0x8120, 1, true)], used: 1),
        Kind(type: .console, queue: 0, descriptors: [(0xC000, 64, true)], used: 8),
        Kind(type: .console, queue: 1, descriptors: [(0xC100, 8, false)], used: 0),
        Kind(type: .console, queue: 3, descriptors: [(0xC200, 8, false)], used: 0),
        Kind(type: .entropy, queue: 0, descriptors: [(0xD000, 64, true)], used: 64),
    ]

    /// The scratch memory: rings below 0x8000, buffers above.
    private static let size = 0x10000
    private static let split = QueueAddresses(descriptorArea: 0x1000, driverArea: 0x2000, deviceArea: 0x3000, size: 8)
    private static let packed = QueueAddresses(descriptorArea: 0x4000, driverArea: 0x5000, deviceArea: 0x5100, size: 8)

    /// Records each kind on a split and on a packed ring, made available, then used, into
    /// `writer` (`/dev/null` when nil). Does nothing where the scratch memory cannot be had
    /// (it only saves time).
    static func run(into writer: RingRecordWriter? = nil) {
        // A file of its own, gone from the directory once both mappings are made.
        var template = Array("/tmp/vqscope-warm-up-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkstemp($0) } ?? -1 }
        guard descriptor >= 0 else { return }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(descriptor) }
        guard ftruncate(descriptor, off_t(Self.size)) == 0,
            let guest = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), guest != MAP_FAILED
        else {
            unlink(path)
            return
        }
        defer { munmap(guest, Self.size) }
        let file = try? MappedFile(path: path, shared: true)
        unlink(path)
        guard let file,
            let memory = try? GuestMemoryMap(file: file, regions: [.init(guestAddress: 0, length: UInt64(Self.size), fileOffset: 0)]),
            let writer = writer ?? (try? RingRecordWriter(path: "/dev/null"))
        else { return }
        func put<T: FixedWidthInteger>(_ value: T, at address: Int) {
            guest.storeBytes(of: value.littleEndian, toByteOffset: address, as: T.self)
        }
        // CTRL_RX (18): the control request (zeroed) is RX_PROMISC, which needs it.
        let features: FeatureBits = [.version1, .eventIndex, .indirectDescriptors, .netControlQueue, FeatureBits(bit: 18)]
        for kind in Self.kinds {
            for packed in [false, true] {
                memset(guest, 0, 0x8000)
                var queue = WatchedQueue(
                    device: "warm-up", type: kind.type, index: kind.queue, addresses: packed ? Self.packed : Self.split,
                    features: packed ? features.union(.ringPacked) : features, netControlQueue: kind.type == .network ? 2 : nil)
                let last = kind.descriptors.count - 1
                for (slot, buffer) in kind.descriptors.enumerated() {
                    let base = (packed ? 0x4000 : 0x1000) + 16 * slot
                    put(buffer.address, at: base)
                    put(buffer.length, at: base + 8)
                    // Split: NEXT and WRITE, then the next index (§2.7.5). Packed: the Buffer ID,
                    // then NEXT, WRITE and AVAIL of the driver's first lap (§2.8.1, §2.8.13).
                    let flags = UInt16(slot < last ? 1 : 0) | UInt16(buffer.write ? 2 : 0)
                    if packed {
                        put(UInt16(0), at: base + 12)
                        put(flags | 0x80, at: base + 14)
                    } else {
                        put(flags, at: base + 12)
                        put(UInt16(slot < last ? slot + 1 : 0), at: base + 14)
                    }
                }
                if !packed {
                    put(UInt16(0), at: 0x2004)
                    put(UInt16(1), at: 0x2002)
                }
                queue.scan(memory: memory, writer: writer)
                if packed {
                    put(kind.used, at: 0x4008)
                    put(UInt16(0x8080), at: 0x400E)
                } else {
                    put(UInt32(0), at: 0x3004)
                    put(kind.used, at: 0x3008)
                    put(UInt16(1), at: 0x3002)
                }
                queue.scan(memory: memory, writer: writer)
            }
        }
    }
}
