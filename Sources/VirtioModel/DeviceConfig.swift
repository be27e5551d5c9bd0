/// One field of a device-specific configuration layout.
public struct ConfigField: Sendable, Hashable {
    public let name: String
    /// Byte offset from the start of the device configuration space.
    public let offset: Int
    /// Size in bytes (1, 2, 4, 8, or the array length for byte arrays).
    public let size: Int
    /// The feature bit that makes the field valid, or `nil` when it always exists.
    public let gatingFeature: Int?

    public init(_ name: String, offset: Int, size: Int, gatedBy feature: Int? = nil) {
        self.name = name
        self.offset = offset
        self.size = size
        self.gatingFeature = feature
    }
}

/// A decoded configuration field value.
public enum ConfigValue: Sendable, Hashable {
    case integer(UInt64)
    case bytes([UInt8])
}

/// The device-specific configuration layout of one device type.
///
/// Spec: virtio v1.2 §5.1.4 (net), §5.2.4 (block), §5.3.4 (console), §5.8.4 (input).
public struct ConfigLayout: Sendable {
    public let device: DeviceType
    public let fields: [ConfigField]

    /// Bytes up to the end of the last field.
    public var size: Int { self.fields.map { $0.offset + $0.size }.max() ?? 0 }

    /// The layout for a device type, or `nil` when the type has none modelled (entropy has no config).
    public static func forDevice(_ device: DeviceType) -> ConfigLayout? {
        switch device {
        case .network: return .net
        case .block: return .block
        case .console: return .console
        case .input: return .input
        default: return nil
        }
    }

    /// The field that covers a byte offset.
    public func field(at offset: Int) -> ConfigField? {
        self.fields.first { offset >= $0.offset && offset < $0.offset + $0.size }
    }

    /// Decodes every field present in `bytes` whose gating feature is in `features`.
    ///
    /// Fields past the end of `bytes` are left out, so a short read gives a partial result
    /// rather than an error; use ``decodeAll(_:features:)`` to require every valid field.
    public func decode(_ bytes: [UInt8], features: FeatureBits) -> [(ConfigField, ConfigValue)] {
        let cursor = ByteCursor(bytes)
        var result: [(ConfigField, ConfigValue)] = []
        for field in self.fields {
            if let gate = field.gatingFeature, !features.contains(bit: gate) { continue }
            guard let value = try? Self.value(of: field, in: cursor) else { continue }
            result.append((field, value))
        }
        return result
    }

    /// Decodes every field valid under `features`, throwing when `bytes` is too short for one.
    public func decodeAll(_ bytes: [UInt8], features: FeatureBits) throws(DecodeError) -> [String: ConfigValue] {
        let cursor = ByteCursor(bytes)
        var result: [String: ConfigValue] = [:]
        for field in self.fields {
            if let gate = field.gatingFeature, !features.contains(bit: gate) { continue }
            result[field.name] = try Self.value(of: field, in: cursor)
        }
        return result
    }

    private static func value(of field: ConfigField, in cursor: ByteCursor) throws(DecodeError) -> ConfigValue {
        switch field.size {
        case 1: return .integer(UInt64(try cursor.peek(UInt8.self, at: field.offset)))
        case 2: return .integer(UInt64(try cursor.peek(UInt16.self, at: field.offset)))
        case 4: return .integer(UInt64(try cursor.peek(UInt32.self, at: field.offset)))
        case 8: return .integer(try cursor.peek(UInt64.self, at: field.offset))
        default:
            var sub = ByteCursor(cursor.bytes, offset: field.offset)
            guard field.offset <= cursor.bytes.count else {
                throw DecodeError(.truncated(needed: field.size, available: 0), at: field.offset)
            }
            return .bytes(try sub.readBytes(field.size))
        }
    }

    /// `struct virtio_net_config`, 1.2 (24 bytes). Spec §5.1.4.
    public static let net = ConfigLayout(device: .network, fields: [
        ConfigField("mac", offset: 0, size: 6, gatedBy: 5),
        ConfigField("status", offset: 6, size: 2, gatedBy: 16),
        ConfigField("max_virtqueue_pairs", offset: 8, size: 2, gatedBy: 22),
        ConfigField("mtu", offset: 10, size: 2, gatedBy: 3),
        ConfigField("speed", offset: 12, size: 4, gatedBy: 63),
        ConfigField("duplex", offset: 16, size: 1, gatedBy: 63),
        ConfigField("rss_max_key_size", offset: 17, size: 1, gatedBy: 60),
        ConfigField("rss_max_indirection_table_length", offset: 18, size: 2, gatedBy: 60),
        ConfigField("supported_hash_types", offset: 20, size: 4, gatedBy: 60),
    ])

    /// `struct virtio_blk_config`, 1.2 (72 bytes). Spec §5.2.4.
    public static let block = ConfigLayout(device: .block, fields: [
        ConfigField("capacity", offset: 0, size: 8),
        ConfigField("size_max", offset: 8, size: 4, gatedBy: 1),
        ConfigField("seg_max", offset: 12, size: 4, gatedBy: 2),
        ConfigField("geometry.cylinders", offset: 16, size: 2, gatedBy: 4),
        ConfigField("geometry.heads", offset: 18, size: 1, gatedBy: 4),
        ConfigField("geometry.sectors", offset: 19, size: 1, gatedBy: 4),
        ConfigField("blk_size", offset: 20, size: 4, gatedBy: 6),
        ConfigField("topology.physical_block_exp", offset: 24, size: 1, gatedBy: 10),
        ConfigField("topology.alignment_offset", offset: 25, size: 1, gatedBy: 10),
        ConfigField("topology.min_io_size", offset: 26, size: 2, gatedBy: 10),
        ConfigField("topology.opt_io_size", offset: 28, size: 4, gatedBy: 10),
        ConfigField("writeback", offset: 32, size: 1, gatedBy: 11),
        ConfigField("num_queues", offset: 34, size: 2, gatedBy: 12),
        ConfigField("max_discard_sectors", offset: 36, size: 4, gatedBy: 13),
        ConfigField("max_discard_seg", offset: 40, size: 4, gatedBy: 13),
        ConfigField("discard_sector_alignment", offset: 44, size: 4, gatedBy: 13),
        ConfigField("max_write_zeroes_sectors", offset: 48, size: 4, gatedBy: 14),
        ConfigField("max_write_zeroes_seg", offset: 52, size: 4, gatedBy: 14),
        ConfigField("write_zeroes_may_unmap", offset: 56, size: 1, gatedBy: 14),
        ConfigField("max_secure_erase_sectors", offset: 60, size: 4, gatedBy: 16),
        ConfigField("max_secure_erase_seg", offset: 64, size: 4, gatedBy: 16),
        ConfigField("secure_erase_sector_alignment", offset: 68, size: 4, gatedBy: 16),
    ])

    /// `struct virtio_console_config` (12 bytes). Spec §5.3.4.
    public static let console = ConfigLayout(device: .console, fields: [
        ConfigField("cols", offset: 0, size: 2, gatedBy: 0),
        ConfigField("rows", offset: 2, size: 2, gatedBy: 0),
        ConfigField("max_nr_ports", offset: 4, size: 4, gatedBy: 1),
        ConfigField("emerg_wr", offset: 8, size: 4, gatedBy: 2),
    ])

    /// `struct virtio_input_config` (136 bytes). Spec §5.8.4.
    public static let input = ConfigLayout(device: .input, fields: [
        ConfigField("select", offset: 0, size: 1),
        ConfigField("subsel", offset: 1, size: 1),
        ConfigField("size", offset: 2, size: 1),
        ConfigField("reserved", offset: 3, size: 5),
        ConfigField("u", offset: 8, size: 128),
    ])
}
