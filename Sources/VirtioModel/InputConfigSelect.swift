/// What a virtio input device's configuration `select` field asks for. Spec: virtio v1.2
/// §5.8.4 (`enum virtio_input_config_select`).
public enum InputConfigSelect: UInt8, Sendable, CaseIterable {
    case unset = 0x00
    case idName = 0x01
    case idSerial = 0x02
    case idDevids = 0x03
    case propBits = 0x10
    case evBits = 0x11
    case absInfo = 0x12

    /// The spec's name: `VIRTIO_INPUT_CFG_ID_NAME` and so on.
    public var name: String {
        switch self {
        case .unset: "VIRTIO_INPUT_CFG_UNSET"
        case .idName: "VIRTIO_INPUT_CFG_ID_NAME"
        case .idSerial: "VIRTIO_INPUT_CFG_ID_SERIAL"
        case .idDevids: "VIRTIO_INPUT_CFG_ID_DEVIDS"
        case .propBits: "VIRTIO_INPUT_CFG_PROP_BITS"
        case .evBits: "VIRTIO_INPUT_CFG_EV_BITS"
        case .absInfo: "VIRTIO_INPUT_CFG_ABS_INFO"
        }
    }

    /// The offsets in `struct virtio_input_config` (``ConfigLayout/input``) of `select`,
    /// `subsel` and `size`; bytes past `size` are the reserved bytes and the union `u`.
    public static let selectOffset: UInt64 = 0
    public static let subselOffset: UInt64 = 1
    public static let sizeOffset: UInt64 = 2

    /// The spec defines no data for `select` with `subsel`: UNSET, a value not in the enum,
    /// or a non-zero `subsel` with one of the four selections whose `subsel` is zero. A
    /// device answers `size` 0 for those (§5.8.5.2). (Which event types EV_BITS and which
    /// axes ABS_INFO have data is the device's own.)
    public static func isUndefined(select: UInt8, subsel: UInt8) -> Bool {
        switch Self(rawValue: select) {
        case .idName?, .idSerial?, .idDevids?, .propBits?: return subsel != 0
        case .evBits?, .absInfo?: return false
        case .unset?, nil: return true
        }
    }
}
