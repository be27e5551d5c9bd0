import VirtioModel

/// A network device presents valid values in the configuration fields of the features it
/// offers: `max_virtqueue_pairs` 1 to 0x8000 (MQ), `mtu` 68 or more and never another value
/// (MTU), `rss_max_key_size` 40 or more and `rss_max_indirection_table_length` 128 or more
/// (RSS). Judged on whole-field reads the trace shows with their values (virtio-pci,
/// `memory_region_ops_read`), where the driver read the offer from `device_feature`.
///
/// Spec: virtio v1.2 §5.1.4.1 "The device MUST set max_virtqueue_pairs to between 1 and 0x8000
/// inclusive, if it offers VIRTIO_NET_F_MQ. The device MUST set mtu to between 68 and 65535
/// inclusive, if it offers VIRTIO_NET_F_MTU. … The device MUST NOT modify mtu once it has been
/// set. … The device MUST set rss_max_key_size to at least 40, if it offers VIRTIO_NET_F_RSS or
/// VIRTIO_NET_F_HASH_REPORT. The device MUST set rss_max_indirection_table_length to at least
/// 128, if it offers VIRTIO_NET_F_RSS."
struct NetConfigValues: ConfigReadRule {
    static let info = RuleInfo(
        id: "NET-CFG-VALUES", severity: .error, section: "5.1.4.1",
        summary: "a network device presents max_virtqueue_pairs, mtu and the RSS limits within the spec's bounds, and mtu unchanged",
        party: .device,
        evidence: "virtio-pci device configuration and device_feature reads (memory_region_ops_read)")

    static func check(_ read: ConfigSpaceRead, device: DeviceContext) -> String? {
        guard let field = Self.presentedField(read, type: device.type, offered: device.offeredFeatureWords),
            let value = read.value
        else { return nil }
        switch field.name {
        case "max_virtqueue_pairs" where value < 1 || value > 0x8000:
            return "max_virtqueue_pairs read as \(value): it is 1 to 0x8000 with VIRTIO_NET_F_MQ offered"
        case "mtu" where value < 68:
            return "mtu read as \(value): it is 68 to 65535 with VIRTIO_NET_F_MTU offered"
        case "mtu":
            guard let first = device.firstMTU, UInt64(first) != value else { return nil }
            return "mtu read as \(value), after \(first): the device never changes it once set"
        case "rss_max_key_size" where value < 40:
            return "rss_max_key_size read as \(value): it is at least 40 with VIRTIO_NET_F_RSS offered"
        case "rss_max_indirection_table_length" where value < 128:
            return "rss_max_indirection_table_length read as \(value): it is at least 128 with VIRTIO_NET_F_RSS offered"
        default:
            return nil
        }
    }

    /// The network configuration field `read` covers exactly, when the device's offer (as the
    /// driver read it) has the field's feature: the value read is the field's, and valid.
    static func presentedField(_ read: ConfigSpaceRead, type: DeviceType?, offered: FeatureWords) -> ConfigField? {
        guard type == .network, let field = read.field(in: .net), read.isWhole(field), let gate = field.gatingFeature,
            offered.contains(bit: gate) == true
        else { return nil }
        return field
    }
}
