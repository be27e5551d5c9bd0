import Testing
import VirtioModel

struct DeviceStatusTests {
    @Test("status values read as the spec's bit names", arguments: [
        (UInt8(0), "0 (reset)"), (1, "1 (ACKNOWLEDGE)"), (11, "11 (ACKNOWLEDGE|DRIVER|FEATURES_OK)"),
        (15, "15 (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)"), (79, "79 (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK|DEVICE_NEEDS_RESET)"),
        (0x30, "48 (0x30)"), (128, "128 (FAILED)"),
    ])
    func names(value: UInt8, text: String) { #expect(DeviceStatus(rawValue: value).description == text) }
}

struct DeviceTypeTests {
    @Test("device IDs and names", arguments: [
        ("net", DeviceType.network, UInt32(1)), ("blk", .block, 2), ("console", .console, 3), ("rng", .entropy, 4),
        ("input", .input, 18), ("19", .socket, 19),
    ])
    func names(name: String, type: DeviceType, id: UInt32) {
        #expect(DeviceType(name: name) == type)
        #expect(type.rawValue == id)
    }

    @Test("unknown names and reserved IDs are refused", arguments: ["nic", "0", "14", "99", ""])
    func unknown(name: String) { #expect(DeviceType(name: name) == nil) }
}

struct FeatureBitsTests {
    @Test("feature bits carry the spec names for their device")
    func names() {
        let features = FeatureBits(rawValue: 1 << 32 | 1 << 28 | 1 << 15 | 1 << 5)
        #expect(features.names(for: .network) == [
            "VIRTIO_NET_F_MAC", "VIRTIO_NET_F_MRG_RXBUF", "VIRTIO_F_INDIRECT_DESC", "VIRTIO_F_VERSION_1",
        ])
        #expect(FeatureBits(rawValue: 1 << 32 | 1 << 8 | 1 << 5).names(for: .block) == [
            "VIRTIO_BLK_F_RO", "bit 8", "VIRTIO_F_VERSION_1",
        ])
        #expect(features.contains(.version1) && features.contains(.indirectDescriptors) && !features.contains(.eventIndex))
    }

    @Test("bits outside 0–63 are never set")
    func outOfRange() {
        #expect(FeatureBits(bit: 64).rawValue == 0)
        #expect(FeatureBits(bit: -1).rawValue == 0)
        #expect(!FeatureBits(rawValue: .max).contains(bit: 64))
    }
}

struct FeatureRequirementTests {
    @Test("§5.1.3.1: a feature without what it requires is unmet; an either-or requirement is met by either; other device types have none")
    func networkRequirements() {
        let names = { (list: [String]) in FeatureBits(names: list, device: .network) }
        let unmet = { (list: [String]) in FeatureRequirement.unmet(in: names(list), device: .network).map { [$0.feature] + $0.missing } }
        #expect(unmet(["VIRTIO_NET_F_GUEST_TSO4"]) == [[7, 1]])
        #expect(unmet(["VIRTIO_NET_F_GUEST_TSO4", "VIRTIO_NET_F_GUEST_CSUM"]).isEmpty)
        #expect(unmet(["VIRTIO_NET_F_HOST_ECN", "VIRTIO_NET_F_CSUM"]) == [[13, 11, 12]])
        #expect(unmet(["VIRTIO_NET_F_HOST_ECN", "VIRTIO_NET_F_CSUM", "VIRTIO_NET_F_HOST_TSO6"]).isEmpty)
        #expect(unmet(["VIRTIO_NET_F_MQ", "VIRTIO_NET_F_RSS", "VIRTIO_NET_F_CTRL_RX"]) == [[18, 17], [22, 17], [60, 17]])
        // HASH_TUNNEL needs CTRL_VQ and one of RSS, HASH_REPORT: each missing entry is said.
        #expect(unmet(["VIRTIO_NET_F_HASH_TUNNEL"]) == [[51, 17], [51, 60, 57]])
        #expect(unmet(["VIRTIO_NET_F_HASH_TUNNEL", "VIRTIO_NET_F_CTRL_VQ", "VIRTIO_NET_F_HASH_REPORT"]).isEmpty)
        // Linux's usual set with a control queue holds together.
        #expect(FeatureRequirement.unmet(in: FeatureBits(rawValue: 0x1_0130_af8024), device: .network).isEmpty)
        #expect(FeatureRequirement.unmet(in: FeatureBits(rawValue: 1 << 7 | 1 << 22), device: .block).isEmpty)
    }
}

struct DeviceConfigTests {
    @Test("virtio_net_config decodes the fields its features enable")
    func net() throws {
        let bytes: [UInt8] = [
            0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // 0  mac
            0x01, 0x00,  // 6  status LINK_UP
            0x04, 0x00,  // 8  max_virtqueue_pairs 4
            0xDC, 0x05,  // 10 mtu 1500
        ]
        let mac = FeatureBits(bit: 5)
        let features = mac.union(FeatureBits(bit: 16)).union(FeatureBits(bit: 3))
        let values = try ConfigLayout.net.decodeAll(bytes, features: features)
        #expect(values["mac"] == .bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]))
        #expect(values["status"] == .integer(1))
        #expect(values["mtu"] == .integer(1500))
        #expect(values["max_virtqueue_pairs"] == nil)  // MQ not negotiated
        #expect(ConfigLayout.net.size == 24)
    }

    @Test("virtio_blk_config: capacity always, gated fields only with their feature")
    func block() throws {
        var bytes = [UInt8](repeating: 0, count: 72)
        bytes[0] = 0x00; bytes[1] = 0x08  // capacity 2048 sectors
        bytes[20] = 0x00; bytes[21] = 0x02  // blk_size 512
        let plain = try ConfigLayout.block.decodeAll(bytes, features: [])
        #expect(plain == ["capacity": .integer(2048)])
        let sized = try ConfigLayout.block.decodeAll(bytes, features: FeatureBits(bit: 6))
        #expect(sized["blk_size"] == .integer(512))
        #expect(ConfigLayout.block.size == 72)
        #expect(ConfigLayout.block.field(at: 33)?.name == nil)
        #expect(ConfigLayout.block.field(at: 29)?.name == "topology.opt_io_size")
    }

    @Test("a short config read throws when every valid field is required")
    func shortConsole() {
        #expect(throws: DecodeError.self) {
            try ConfigLayout.console.decodeAll([0x50, 0x00, 0x18], features: FeatureBits(bit: 0))
        }
        #expect(ConfigLayout.console.decode([0x50, 0x00, 0x18], features: FeatureBits(bit: 0)).map(\.0.name) == ["cols"])
    }

    @Test("virtio_input_config is 136 bytes with a 128-byte union")
    func input() throws {
        var bytes = [UInt8](repeating: 0, count: 136)
        bytes[0] = 0x01; bytes[2] = 5  // select ID_NAME, size 5
        let values = try ConfigLayout.input.decodeAll(bytes, features: [])
        #expect(values["select"] == .integer(1) && values["size"] == .integer(5))
        #expect(ConfigLayout.input.size == 136)
        #expect(ConfigLayout.forDevice(.entropy) == nil)
    }
}

struct MMIORegisterTests {
    @Test("the register map of §4.2.2 and §4.2.4", arguments: [
        (UInt64(0x000), MMIORegister.magicValue, MMIORegister.Access.read), (0x030, .queueSel, .write),
        (0x038, .queueNum, .write), (0x040, .queuePFN, .readWrite), (0x044, .queueReady, .readWrite),
        (0x050, .queueNotify, .write), (0x070, .status, .readWrite), (0x0a4, .queueDeviceHigh, .write),
        (0x0fc, .configGeneration, .read),
    ])
    func map(offset: UInt64, register: MMIORegister, access: MMIORegister.Access) {
        #expect(MMIORegister(rawValue: offset) == register)
        #expect(register.access == access)
    }

    @Test("legacy-only and modern-only registers")
    func versions() {
        #expect(MMIORegister.guestPageSize.versions == [.legacy])
        #expect(MMIORegister.queuePFN.versions == [.legacy])
        #expect(MMIORegister.queueReady.versions == [.modern])
        #expect(MMIORegister.status.versions == [.legacy, .modern])
        #expect(MMIORegister(rawValue: 0x048) == nil)
        #expect(MMIORegister.magic == 0x7472_6976)
    }
}
