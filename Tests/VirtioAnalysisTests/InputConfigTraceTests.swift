import Testing
@testable import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// The input device's configuration selection (INPUT-CFG-WRITES, INPUT-CFG-UNSUPPORTED) on
/// virtio-mmio, whose register writes are held until a status write names their device, and
/// the selections the spec defines. (virtio-pci: `traces/rules/INPUT-CFG-*`.)
struct InputConfigTraceTests {
    static let vdev: UInt64 = 0x55d0_c000_7000

    /// A virtio-mmio input device set up to FEATURES_OK, then `config`, then DRIVER_OK. With
    /// `probed`, the trace has `memory_region_ops_*` too: the driver's probe of the register
    /// block at 0xa000000 (DeviceID 18, input), and each Status write's address.
    static func trace(_ config: [String], probed: Bool = false) -> String {
        var events: [String] = []
        if probed {
            events += [(0x0, 0x7472_6976), (0x4, 2), (0x8, 18)].map {
                "memory_region_ops_read cpu 0 mr 0x5 addr 0x\(String(0xa00_0000 + $0.0, radix: 16)) value 0x\(String($0.1, radix: 16)) size 4 name 'virtio-mmio'"
            }
        }
        for status in [0, 1, 3] {
            if probed {
                events.append("memory_region_ops_write cpu 0 mr 0x5 addr 0xa000070 value 0x\(String(status, radix: 16)) size 4 name 'virtio-mmio'")
            }
            events += ["virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x\(String(status, radix: 16))",
                       "virtio_set_status vdev 0x\(String(Self.vdev, radix: 16)) val \(status)"]
        }
        events += ["virtio_mmio_write_offset virtio_mmio_write offset 0x24 value 0x1",
                   "virtio_mmio_write_offset virtio_mmio_write offset 0x20 value 0x1",
                   "virtio_mmio_write_offset virtio_mmio_write offset 0x24 value 0x0",
                   "virtio_mmio_write_offset virtio_mmio_write offset 0x20 value 0x0",
                   "virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0xb",
                   "virtio_set_status vdev 0x\(String(Self.vdev, radix: 16)) val 11",
                   "virtio_mmio_read virtio_mmio_read offset 0x70"]
        events += config
        events += ["virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0xf",
                   "virtio_set_status vdev 0x\(String(Self.vdev, radix: 16)) val 15"]
        return events.enumerated().map { traceLine(($0.offset + 1) * 10, $0.element) }.joined(separator: "\n") + "\n"
    }

    /// A config write at `offset` (0 is select), with QEMU's `memory_region_ops_write` before it when `size` is given.
    static func write(_ offset: UInt64, _ value: UInt64, size: Int? = nil) -> [String] {
        let register = "virtio_mmio_write_offset virtio_mmio_write offset 0x\(String(0x100 + offset, radix: 16)) value 0x\(String(value, radix: 16))"
        guard let size else { return [register] }
        return ["memory_region_ops_write cpu 0 mr 0x5 addr 0x\(String(0xa00_0100 + offset, radix: 16)) value 0x\(String(value, radix: 16)) "
                + "size \(size) name 'virtio-mmio'", register]
    }

    static func read(_ offset: UInt64) -> String { "virtio_mmio_read virtio_mmio_read offset 0x\(String(0x100 + offset, radix: 16))" }

    static func findings(_ config: [String], input: Bool = true) throws -> [String] {
        var options = AnalysisOptions()
        if input { options.deviceTypes[Self.vdev] = .input }
        return try analyze(text: Self.trace(config), options: options).findings
            .filter { $0.rule.id.hasPrefix("INPUT-") }.map { "\($0.rule.id):\($0.location.line ?? 0)" }
    }

    @Test("virtio-mmio, a device given as input: a read after select alone, a write to size, and a 4-byte write at select (its size from memory_region_ops_write) are reported at their own lines once DRIVER_OK names the device")
    func mmioHeldAccesses() throws {
        // Lines 14 on: the configuration accesses; select alone at 21, read at 22; size written at 23; 4 bytes at 25.
        let config = Self.write(0, 0x01, size: 1) + Self.write(1, 0x00, size: 1) + [Self.read(2), Self.read(8)]
            + Self.write(0, 0x02, size: 1) + [Self.read(2)]
            + Self.write(2, 0x05) + Self.write(0, 0x0111, size: 4) + [Self.read(2)]
        #expect(try Self.findings(config) == ["INPUT-CFG-WRITES:22", "INPUT-CFG-WRITES:23", "INPUT-CFG-WRITES:25"])
        // Both fields each time, subsel first once: nothing.
        let clean = Self.write(0, 0x01, size: 1) + Self.write(1, 0x00, size: 1) + [Self.read(2)]
            + Self.write(1, 0x01) + Self.write(0, 0x11) + [Self.read(2), Self.read(8)]
        #expect(try Self.findings(clean) == [])
        // A 1-byte write at select (QEMU's size says so) followed by a read: subsel was not written.
        #expect(try Self.findings(Self.write(0, 0x0111, size: 1) + [Self.read(2)]) == ["INPUT-CFG-WRITES:16"])
    }

    @Test("virtio-mmio without --device: nothing is judged unless the trace has the driver's probe of the register block, whose DeviceID (18) the status writes' addresses tie to the device")
    func mmioTypeFromProbe() throws {
        let config = Self.write(2, 0x05) + Self.write(0, 0x01) + [Self.read(2)]
        #expect(try Self.findings(config, input: false) == [])
        let report = try analyze(text: Self.trace(config, probed: true))
        // Lines 1-3 the probe, 4-12 the three status writes with their addresses, 13-19 to FEATURES_OK's
        // read-back; then size written (line 20) and read after select alone (line 22).
        #expect(report.findings.filter { $0.rule.id.hasPrefix("INPUT-") }.map { $0.location.line ?? 0 } == [20, 22])
        #expect(report.devices.first?.type == .input)
        #expect(report.devices.first?.typeDecidedBy == "its DeviceID, read from the virtio-mmio register block at 0xa000000")
    }

    @Test("the selections the spec defines no data for: UNSET, values it does not list, a non-zero subsel for the four whose subsel is zero; EV_BITS and ABS_INFO are the device's")
    func undefinedSelections() {
        #expect(InputConfigSelect.isUndefined(select: 0x00, subsel: 0))
        #expect(InputConfigSelect.isUndefined(select: 0x04, subsel: 0))
        #expect(InputConfigSelect.isUndefined(select: 0xff, subsel: 0))
        for select in [InputConfigSelect.idName, .idSerial, .idDevids, .propBits] {
            #expect(!InputConfigSelect.isUndefined(select: select.rawValue, subsel: 0))
            #expect(InputConfigSelect.isUndefined(select: select.rawValue, subsel: 1))
        }
        #expect(!InputConfigSelect.isUndefined(select: 0x11, subsel: 0xff))
        #expect(!InputConfigSelect.isUndefined(select: 0x12, subsel: 0x40))
    }

    @Test("hostile offsets and sizes: the bytes a write covers stay within 64 bits and 8 bytes, and no trap")
    func hostileBytes() {
        #expect(ConfigSpaceWrite(offset: .max, size: 8, value: 1).bytes == UInt64.max...UInt64.max)
        #expect(ConfigSpaceWrite(offset: 0, size: 1 << 40, value: 0).bytes == 0...7)
        #expect(ConfigSpaceWrite(offset: 1, size: 0, value: 0).bytes == 1...1)
        #expect(ConfigSpaceWrite(offset: 0, size: nil, value: 0x0111).bytes == 0...1)
        #expect(ConfigSpaceWrite(offset: 0, size: nil, value: .max).bytes == 0...7)
    }
}
