import GuestMemory
import Testing
import VirtioModel
import VirtioTestSupport

/// Little-endian writes into a byte array, for hand-built dump files.
extension Array where Element == UInt8 {
    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
}

/// A raw guest memory image built in a test: little-endian writes at guest-physical addresses.
struct MemoryImage {
    let base: UInt64
    var bytes: [UInt8]

    init(base: UInt64 = 0x4000_0000, size: Int = 0x10000) {
        self.base = base
        self.bytes = [UInt8](repeating: 0, count: size)
    }

    mutating func put<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        self.bytes.put(value, at: Int(address - self.base))
    }

    /// Writes descriptor `index` of the table at `table`.
    mutating func descriptor(
        _ index: UInt16, table: UInt64, address: UInt64, length: UInt32, flags: DescriptorFlags, next: UInt16 = 0
    ) {
        let at = table + UInt64(index) * 16
        self.put(address, at: at)
        self.put(length, at: at + 8)
        self.put(flags.rawValue, at: at + 12)
        self.put(next, at: at + 14)
    }

    func open() throws -> (GuestMemoryMap, TemporaryFile) {
        let file = TemporaryFile(bytes: self.bytes, name: "mem.raw")
        return (try GuestMemoryDump.open(path: file.path, base: self.base), file)
    }
}

struct GuestMemoryMapTests {
    @Test("a raw image maps at its base; reads outside it are errors, not traps")
    func raw() throws {
        var image = MemoryImage()
        image.put(UInt32(0xCAFE_F00D), at: 0x4000_0100)
        let (memory, file) = try image.open()
        defer { file.remove() }
        var cursor = try memory.cursor(at: 0x4000_0100, length: 4)
        #expect(try cursor.read(UInt32.self) == 0xCAFE_F00D)
        #expect(throws: MemoryError.unmapped(address: 0x3FFF_FFFF, length: 2)) { try memory.bytes(at: 0x3FFF_FFFF, length: 2) }
        #expect(throws: MemoryError.unmapped(address: 0x4000_FFFF, length: 2)) { try memory.bytes(at: 0x4000_FFFF, length: 2) }
        #expect(throws: MemoryError.addressOverflow(address: .max, length: 16)) { try memory.bytes(at: .max, length: 16) }
        #expect(!memory.contains(0x4000_0000, length: .max))
        #expect(memory.contains(0x4000_0000, length: 0x10000))
    }

    @Test("an ELF64 core maps each PT_LOAD at its p_paddr, with holes between")
    func elf64() throws {
        // Header (64) + two program headers (2 × 56) at 64, data at 0x100 and 0x200.
        var bytes = [UInt8](repeating: 0, count: 0x300)
        bytes.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1])
        bytes.put(UInt64(64), at: 0x20)  // e_phoff
        bytes.put(UInt16(56), at: 0x36)  // e_phentsize
        bytes.put(UInt16(2), at: 0x38)  // e_phnum
        for (index, (offset, paddr, size)) in [(0x100, UInt64(0x0), 0x100), (0x200, UInt64(0xFFFC_0000), 0x80)].enumerated() {
            let at = 64 + index * 56
            bytes.put(UInt32(1), at: at)  // PT_LOAD
            bytes.put(UInt64(offset), at: at + 8)
            bytes.put(paddr, at: at + 24)
            bytes.put(UInt64(size), at: at + 32)
        }
        bytes.put(UInt32(0x1122_3344), at: 0x110)  // guest-physical 0x10
        bytes.put(UInt32(0x5566_7788), at: 0x204)  // guest-physical 0xFFFC0004
        let file = TemporaryFile(bytes: bytes, name: "core.elf")
        defer { file.remove() }
        let memory = try GuestMemoryDump.open(path: file.path)
        #expect(memory.regions.map(\.guestAddress) == [0, 0xFFFC_0000])
        var low = try memory.cursor(at: 0x10, length: 4)
        var high = try memory.cursor(at: 0xFFFC_0004, length: 4)
        #expect(try low.read(UInt32.self) == 0x1122_3344)
        #expect(try high.read(UInt32.self) == 0x5566_7788)
        #expect(throws: MemoryError.self) { try memory.bytes(at: 0x1000, length: 4) }  // the hole
    }

    @Test("malformed ELF cores are errors with the offset", arguments: [
        "phdrs past the end", "segment past the end", "overlapping segments", "big-endian", "truncated header",
        "address wraps 2^64",
    ])
    func malformedELF(defect: String) throws {
        var bytes = [UInt8](repeating: 0, count: 0x200)
        bytes.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, defect == "big-endian" ? 2 : 1])
        bytes.put(UInt64(defect == "phdrs past the end" ? 0x1F0 : 64), at: 0x20)
        bytes.put(UInt16(56), at: 0x36)
        bytes.put(UInt16(2), at: 0x38)
        for index in 0..<2 {
            let at = 64 + index * 56
            bytes.put(UInt32(1), at: at)
            bytes.put(UInt64(0x100), at: at + 8)
            bytes.put(UInt64(index == 1 && defect == "overlapping segments" ? 0x40 : UInt64(index) * 0x1000), at: at + 24)
            if index == 1, defect == "address wraps 2^64" { bytes.put(UInt64.max - 0x10, at: at + 24) }
            bytes.put(UInt64(defect == "segment past the end" ? 0x1000 : 0x80), at: at + 32)
        }
        if defect == "truncated header" { bytes.removeSubrange(40...) }
        let file = TemporaryFile(bytes: bytes, name: "bad.elf")
        defer { file.remove() }
        do {
            _ = try GuestMemoryDump.open(path: file.path)
            Issue.record("accepted: \(defect)")
        } catch {
            switch error {
            case .malformed, .unsupportedFormat: break
            default: Issue.record("unexpected \(error)")
            }
        }
    }

    @Test("kdump formats and unknown files without a base are refused with advice")
    func otherFormats() throws {
        for (content, word) in [("makedumpfile\u{0}\u{0}\u{0}\u{0}", "flattened"), ("KDUMP   xxxx", "kdump-compressed"), ("hello", "--base")] {
            let file = TemporaryFile(text: content, name: "dump")
            defer { file.remove() }
            do {
                _ = try GuestMemoryDump.open(path: file.path)
                Issue.record("accepted \(word)")
            } catch {
                #expect("\(error)".contains(word), "\(error)")
            }
        }
        #expect(throws: MemoryError.missing(path: "/nonexistent.elf")) { try GuestMemoryDump.open(path: "/nonexistent.elf") }
    }
}

struct DescriptorChainTests {
    static let table: UInt64 = 0x4000_1000

    func walk(_ image: MemoryImage, head: UInt16 = 0, size: UInt16 = 8, indirect: Bool? = true) throws -> DescriptorChain {
        let (memory, file) = try image.open()
        defer { file.remove() }
        return DescriptorChain(head: head, table: Self.table, queueSize: size, memory: memory, indirectNegotiated: indirect)
    }

    @Test("a block request chain: header readable, data and status writable")
    func clean() throws {
        var image = MemoryImage()
        image.descriptor(0, table: Self.table, address: 0x4000_8000, length: 16, flags: .next, next: 3)
        image.descriptor(3, table: Self.table, address: 0x4000_9000, length: 512, flags: [.next, .write], next: 5)
        image.descriptor(5, table: Self.table, address: 0x4000_9200, length: 1, flags: .write)
        let chain = try self.walk(image)
        #expect(chain.defects.isEmpty)
        #expect(chain.elements.map(\.index) == [0, 3, 5])
        #expect(chain.readableBytes == 16 && chain.writableBytes == 513)
    }

    @Test("a loop is found, not followed forever")
    func loop() throws {
        var image = MemoryImage()
        image.descriptor(0, table: Self.table, address: 0x4000_8000, length: 16, flags: .next, next: 1)
        image.descriptor(1, table: Self.table, address: 0x4000_8100, length: 16, flags: .next, next: 0)
        #expect(try self.walk(image).defects == [.loop(descriptor: 0, indirect: false)])
    }

    @Test("next and head out of range")
    func outOfRange() throws {
        var image = MemoryImage()
        image.descriptor(0, table: Self.table, address: 0x4000_8000, length: 16, flags: .next, next: 65_535)
        #expect(try self.walk(image).defects == [.nextOutOfRange(descriptor: 0, next: 65_535, limit: 8, indirect: false)])
        #expect(try self.walk(image, head: 8).defects == [.headOutOfRange(head: 8, queueSize: 8)])
    }

    @Test("a readable descriptor after a writable one is reported once")
    func order() throws {
        var image = MemoryImage()
        image.descriptor(0, table: Self.table, address: 0x4000_8000, length: 8, flags: [.next, .write], next: 1)
        image.descriptor(1, table: Self.table, address: 0x4000_8100, length: 8, flags: .next, next: 2)
        image.descriptor(2, table: Self.table, address: 0x4000_8200, length: 8, flags: [])
        #expect(try self.walk(image).defects == [.readableAfterWritable(position: 1)])
    }

    @Test("indirect tables: walked once, nesting, NEXT, length and negotiation checked")
    func indirect() throws {
        let indirectTable: UInt64 = 0x4000_4000
        var image = MemoryImage()
        image.descriptor(0, table: Self.table, address: indirectTable, length: 48, flags: .indirect)
        image.descriptor(0, table: indirectTable, address: 0x4000_8000, length: 16, flags: .next, next: 1)
        image.descriptor(1, table: indirectTable, address: 0x4000_8100, length: 512, flags: [.next, .write], next: 2)
        image.descriptor(2, table: indirectTable, address: 0x4000_8300, length: 1, flags: .write)
        let chain = try self.walk(image)
        #expect(chain.defects.isEmpty)
        #expect(chain.elements.map(\.indirect) == [true, true, true])
        #expect(try self.walk(image, indirect: false).defects == [.indirectNotNegotiated(descriptor: 0)])

        var nested = image
        nested.descriptor(2, table: indirectTable, address: indirectTable, length: 16, flags: .indirect)
        #expect(try self.walk(nested).defects == [.nestedIndirect(descriptor: 2)])

        var withNext = image
        withNext.descriptor(0, table: Self.table, address: indirectTable, length: 48, flags: [.indirect, .next], next: 1)
        #expect(try self.walk(withNext).defects == [.indirectWithNext(descriptor: 0)])

        var badLength = image
        badLength.descriptor(0, table: Self.table, address: indirectTable, length: 40, flags: .indirect)
        #expect(try self.walk(badLength).defects == [.indirectLength(length: 40)])

        var outside = image
        outside.descriptor(0, table: Self.table, address: 0x7000_0000, length: 0xFFFF_FFF0, flags: .indirect)
        #expect(try self.walk(outside).defects == [.unmapped(address: 0x7000_0000, length: 0xFFFF_FFF0)])
    }

    @Test("a descriptor table outside the dump is reported, not read")
    func unmappedTable() throws {
        let (memory, file) = try MemoryImage().open()
        defer { file.remove() }
        let chain = DescriptorChain(head: 0, table: 0x1000, queueSize: 8, memory: memory, indirectNegotiated: nil)
        #expect(chain.defects == [.unmapped(address: 0x1000, length: 16)])
    }
}

struct SplitQueueSnapshotTests {
    @Test("the available and used rings decode, with EVENT_IDX fields")
    func rings() throws {
        var image = MemoryImage()
        let addresses = QueueAddresses(descriptorArea: 0x4000_1000, driverArea: 0x4000_2000, deviceArea: 0x4000_3000, size: 4)
        image.put(UInt16(0), at: 0x4000_2000)  // avail.flags
        image.put(UInt16(3), at: 0x4000_2002)  // avail.idx
        for (slot, head) in [UInt16(2), 0, 1, 3].enumerated() { image.put(head, at: 0x4000_2004 + UInt64(slot) * 2) }
        image.put(UInt16(2), at: 0x4000_200C)  // used_event
        image.put(UInt16(1), at: 0x4000_3002)  // used.idx
        image.put(UInt32(2), at: 0x4000_3004)  // used[0].id
        image.put(UInt32(513), at: 0x4000_3008)  // used[0].len
        image.put(UInt16(1), at: 0x4000_3024)  // avail_event
        let (memory, file) = try image.open()
        defer { file.remove() }
        let snapshot = try SplitQueueSnapshot(memory: memory, addresses: addresses, eventIndex: true)
        #expect(snapshot.avail.index.rawValue == 3 && snapshot.avail.ring == [2, 0, 1, 3] && snapshot.avail.usedEvent == 2)
        #expect(snapshot.usedIndex.rawValue == 1 && snapshot.used[0] == UsedElement(id: 2, length: 513))
        #expect(snapshot.availEvent == 1)
        let outside = QueueAddresses(descriptorArea: 0, driverArea: 0x4000_FFFE, deviceArea: 0x4000_3000, size: 4)
        #expect(throws: MemoryError.self) { try SplitQueueSnapshot(memory: memory, addresses: outside, eventIndex: false) }
    }
}

struct HostileDumpTests {
    @Test("ELF headers and program headers with random values never trap")
    func randomELF() throws {
        var random = SplitMix(state: 2026)
        for round in 0..<300 {
            var bytes = [UInt8](repeating: 0, count: 512)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
            bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
            bytes[4] = UInt8(1 + round % 2)
            bytes[5] = 1
            if round % 3 == 0 {  // plausible table position, random entries
                bytes[0x20] = 64
                for index in 0x21..<0x28 { bytes[index] = 0 }
            }
            let file = TemporaryFile(bytes: bytes, name: "random.elf")
            defer { file.remove() }
            if let memory = try? GuestMemoryDump.open(path: file.path) {
                for region in memory.regions {
                    _ = try? memory.bytes(at: region.guestAddress, length: Int(min(region.length, 64)))
                }
            }
        }
    }

    @Test("chains over random descriptor tables end, whatever the links")
    func randomChains() throws {
        var random = SplitMix(state: 7)
        var image = MemoryImage()
        for index in stride(from: 0, to: image.bytes.count, by: 8) {
            let value = random.next()
            for byte in 0..<8 { image.bytes[index + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte))) }
        }
        let (memory, file) = try image.open()
        defer { file.remove() }
        for head in 0..<256 {
            let chain = DescriptorChain(
                head: UInt16(head), table: 0x4000_0000, queueSize: 256, memory: memory, indirectNegotiated: nil)
            // No descriptor of the queue's table is visited twice, and a walk that stops early says why.
            let direct = chain.elements.filter { !$0.indirect }.map(\.index)
            #expect(Set(direct).count == direct.count)
            #expect(direct.count <= 256)
            if let last = chain.elements.last, last.descriptor.flags.contains(.next) { #expect(!chain.defects.isEmpty) }
        }
    }

    @Test("packed rings at random places and sizes over random memory decode or say why")
    func randomPacked() throws {
        var random = SplitMix(state: 99)
        var image = MemoryImage()
        for index in image.bytes.indices { image.bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
        let (memory, file) = try image.open()
        defer { file.remove() }
        var decoded = 0
        for _ in 0..<400 {
            // Addresses near and past the image's ends, sizes up to the 16-bit maximum.
            let pick = { (value: UInt64) in [0x4000_0000 &+ value % 0x1_1000, value, UInt64.max &- value % 64][Int(value % 3)] }
            let addresses = QueueAddresses(
                descriptorArea: pick(random.next()), driverArea: pick(random.next()), deviceArea: pick(random.next()),
                size: UInt16(truncatingIfNeeded: random.next() % 3 == 0 ? random.next() : random.next() % 64))
            if let snapshot = try? PackedQueueSnapshot(memory: memory, addresses: addresses) {
                decoded += 1
                #expect(snapshot.descriptors.count == Int(addresses.size))
                #expect(snapshot.availableLooking + snapshot.usedLooking <= Int(addresses.size))
            }
        }
        #expect(decoded > 0 && decoded < 400)
    }

    @Test("corrupted QMP transcripts give devices or a MemoryError with an offset, never a trap")
    func corruptedQMP() throws {
        let text = try #require(Fixtures.text("traces/real/qmp/linux-pci-dump.jsonl"))
        var random = SplitMix(state: 5)
        var outcomes = (devices: 0, malformed: 0, other: 0)
        for _ in 0..<150 {
            var bytes = Array(text.utf8)
            for _ in 0..<8 {
                let at = Int(random.next() % UInt64(bytes.count))
                bytes[at] = [UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\""), UInt8(ascii: "9"), 0xFF][Int(random.next() % 5)]
            }
            let file = TemporaryFile(bytes: bytes, name: "qmp.jsonl")
            defer { file.remove() }
            do {
                let devices = try QMPVirtioSnapshot.read(path: file.path)
                outcomes.devices += 1
                #expect(devices.allSatisfy { $0.queues.allSatisfy { $0.addresses.size > 0 } })
            } catch {
                if case .malformed(_, let offset, _) = error {
                    outcomes.malformed += 1
                    #expect(offset < UInt64(bytes.count))
                } else {
                    outcomes.other += 1
                }
            }
        }
        #expect(outcomes.devices > 0 && outcomes.malformed > 0)
        // Nesting far deeper than any reply is refused at the first level past the limit.
        let deep = TemporaryFile(text: String(repeating: "[", count: 100_000), name: "deep.json")
        defer { deep.remove() }
        #expect {
            try QMPVirtioSnapshot.read(path: deep.path)
        } throws: { error in
            guard case .malformed(_, let offset, let reason) = error as? MemoryError else { return false }
            return offset == 64 && reason.contains("deeper")
        }
    }
}

