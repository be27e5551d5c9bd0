import Testing
import VirtioModel

struct ByteCursorTests {
    @Test("reads little-endian integers and advances")
    func readsLittleEndian() throws {
        var cursor = ByteCursor([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07])
        #expect(try cursor.read(UInt16.self) == 0x0201)
        #expect(try cursor.read(UInt32.self) == 0x0605_0403)
        #expect(cursor.offset == 6)
        #expect(cursor.remaining == 1)
    }

    @Test("a short read throws with the offset and leaves the cursor in place")
    func shortRead() {
        var cursor = ByteCursor([0xAA, 0xBB, 0xCC], offset: 1)
        #expect(throws: DecodeError(.truncated(needed: 4, available: 2), at: 1)) { try cursor.read(UInt32.self) }
        #expect(cursor.offset == 1)
    }

    @Test("peeks outside the buffer throw instead of trapping", arguments: [-1, 3, 4, Int.max])
    func peekOutside(position: Int) {
        let cursor = ByteCursor([1, 2, 3, 4])
        #expect(throws: DecodeError.self) { try cursor.peek(UInt16.self, at: position) }
    }
}

struct SplitRingTests {
    @Test("a descriptor decodes from its 16 bytes")
    func descriptor() throws {
        var cursor = ByteCursor([
            0x00, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,  // 0  addr 0x40001000
            0x00, 0x02, 0x00, 0x00,  // 8  len 512
            0x03, 0x00,  // 12 flags NEXT|WRITE
            0x05, 0x00,  // 14 next 5
        ])
        let descriptor = try SplitDescriptor(parsing: &cursor)
        #expect(descriptor.address == 0x4000_1000)
        #expect(descriptor.length == 512)
        #expect(descriptor.flags == [.next, .write])
        #expect(descriptor.next == 5)
        #expect(descriptor.end == 0x4000_1200)
        #expect(cursor.remaining == 0)
    }

    @Test("a descriptor whose buffer wraps the address space has no end")
    func overflowingDescriptor() throws {
        var cursor = ByteCursor([0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x20, 0, 0, 0, 0, 0, 0, 0])
        #expect(try SplitDescriptor(parsing: &cursor).end == nil)
    }

    @Test("a truncated descriptor throws and consumes nothing")
    func truncatedDescriptor() {
        var cursor = ByteCursor([UInt8](repeating: 0, count: 15))
        #expect(throws: DecodeError.self) { try SplitDescriptor(parsing: &cursor) }
        #expect(cursor.offset == 0)
    }

    @Test("the available ring decodes with and without used_event")
    func availRing() throws {
        let bytes: [UInt8] = [
            0x01, 0x00,  // flags NO_INTERRUPT
            0x03, 0x00,  // idx 3
            0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x03, 0x00,  // ring[4] = 0, 2, 1, 3
            0x07, 0x00,  // used_event 7
        ]
        var withEvent = ByteCursor(bytes)
        let ring = try AvailRing(parsing: &withEvent, queueSize: 4, eventIndex: true)
        #expect(ring.flags == .noInterrupt)
        #expect(ring.index.rawValue == 3)
        #expect(ring.ring == [0, 2, 1, 3])
        #expect(ring.usedEvent == 7)
        var withoutEvent = ByteCursor(bytes)
        #expect(try AvailRing(parsing: &withoutEvent, queueSize: 4, eventIndex: false).usedEvent == nil)
        #expect(withoutEvent.remaining == 2)
        var short = ByteCursor(Array(bytes.prefix(12)))
        #expect(throws: DecodeError.self) { try AvailRing(parsing: &short, queueSize: 4, eventIndex: true) }
    }

    @Test("a used element decodes")
    func usedElement() throws {
        var cursor = ByteCursor([0x02, 0, 0, 0, 0x01, 0x02, 0, 0])
        #expect(try UsedElement(parsing: &cursor) == UsedElement(id: 2, length: 513))
    }

    @Test("ring indices wrap at 2^16", arguments: [(UInt16(0), UInt16(0), 0), (65_535, 1, 2), (10, 5, 65_531), (0, 65_535, 65_535)])
    func ringIndex(from: UInt16, to: UInt16, distance: Int) {
        #expect(RingIndex(rawValue: from).distance(to: RingIndex(rawValue: to)) == distance)
        #expect(RingIndex(rawValue: from).advanced(by: UInt16(truncatingIfNeeded: distance)).rawValue == to)
    }

    @Test("split ring sizes follow §2.7", arguments: [1, 2, 256, 32_768])
    func sizes(size: Int) {
        let layout = SplitRingLayout(queueSize: size)
        #expect(layout.isValidSize)
        #expect(layout.descriptorTableSize == 16 * size)
        #expect(layout.availRingSize == 6 + 2 * size)
        #expect(layout.usedRingSize == 6 + 8 * size)
    }

    @Test("invalid split queue sizes", arguments: [0, 3, 100, 32_769, 65_535, 65_536])
    func invalidSizes(size: Int) { #expect(!SplitRingLayout(queueSize: size).isValidSize) }

    @Test("the legacy layout puts the used ring on the next alignment boundary")
    func legacyLayout() {
        // 256 entries: 4096 bytes of descriptors + 518 of avail ring = 4614 → 8192 at 4096 alignment.
        #expect(SplitRingLayout(queueSize: 256).legacyUsedOffset(alignment: 4096) == 8192)
        #expect(SplitRingLayout(queueSize: 8).legacyUsedOffset(alignment: 4096) == 4096)
        #expect(SplitRingLayout(queueSize: 8).legacyUsedOffset(alignment: 3000) == nil)
        #expect(SplitRingLayout.isAligned(0x1000, to: SplitRingLayout.descriptorAlignment))
        #expect(!SplitRingLayout.isAligned(0x1002, to: SplitRingLayout.usedAlignment))
    }

    @Test("ring flags: 0 or 1 without EVENT_IDX, 0 with it; not knowing EVENT_IDX rules out only values above 1")
    func ringFlagsAllowed() {
        let cases: [(UInt16, Bool?, Bool)] = [
            (0, true, true), (0, false, true), (0, nil, true),
            (1, false, true), (1, nil, true), (1, true, false),
            (2, false, false), (3, nil, false), (0x8000, true, false),
        ]
        for (value, eventIndex, allowed) in cases {
            #expect(AvailFlags(rawValue: value).isAllowed(eventIndex: eventIndex) == allowed, "avail \(value) \(String(describing: eventIndex))")
            #expect(UsedFlags(rawValue: value).isAllowed(eventIndex: eventIndex) == allowed, "used \(value) \(String(describing: eventIndex))")
        }
    }
}

struct PackedRingTests {
    @Test("a packed descriptor decodes and knows its wrap state")
    func descriptor() throws {
        var cursor = ByteCursor([
            0x00, 0x20, 0, 0, 0, 0, 0, 0,  // addr 0x2000
            0x10, 0, 0, 0,  // len 16
            0x07, 0x00,  // buffer id 7
            0x82, 0x00,  // flags AVAIL|WRITE
        ])
        let descriptor = try PackedDescriptor(parsing: &cursor)
        #expect(descriptor.bufferID == 7)
        #expect(descriptor.flags == [.avail, .write])
        #expect(descriptor.isAvailable(driverWrapCounter: true))
        #expect(!descriptor.isAvailable(driverWrapCounter: false))
        #expect(!descriptor.isUsed(deviceWrapCounter: true))
    }

    @Test("event suppression decodes offset, wrap and mode; value 3 is reserved")
    func eventSuppression() throws {
        var cursor = ByteCursor([0x05, 0x80, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00])
        let first = try EventSuppression(parsing: &cursor)
        #expect(first.offset == 5 && first.wrapCounter && first.mode == .descriptor && first.reservedFlagBits == 0)
        let second = try EventSuppression(parsing: &cursor)
        #expect(second.mode == .reserved && second.reservedFlagBits == 1)
    }

    @Test("packed sizes need not be powers of two", arguments: [1, 3, 100, 32_768])
    func sizes(size: Int) {
        #expect(PackedRingLayout(queueSize: size).isValidSize)
        #expect(PackedRingLayout(queueSize: size).descriptorRingSize == 16 * size)
    }
}
