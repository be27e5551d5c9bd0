/// The device status field.
///
/// Spec: virtio v1.2 §2.1 "Device Status Field".
public struct DeviceStatus: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The guest OS has found the device. The corresponding spec constant is `ACKNOWLEDGE` (1).
    public static let acknowledge = DeviceStatus(rawValue: 1)
    /// The guest OS knows how to drive the device. The corresponding spec constant is `DRIVER` (2).
    public static let driver = DeviceStatus(rawValue: 2)
    /// The driver is set up and ready to drive the device. The corresponding spec constant is `DRIVER_OK` (4).
    public static let driverOK = DeviceStatus(rawValue: 4)
    /// Feature negotiation is complete. The corresponding spec constant is `FEATURES_OK` (8).
    public static let featuresOK = DeviceStatus(rawValue: 8)
    /// The device hit an error it cannot recover from. The corresponding spec constant is `DEVICE_NEEDS_RESET` (64).
    public static let deviceNeedsReset = DeviceStatus(rawValue: 64)
    /// The driver gave up on the device. The corresponding spec constant is `FAILED` (128).
    public static let failed = DeviceStatus(rawValue: 128)

    /// The bits a driver may set (all but DEVICE_NEEDS_RESET).
    public static let driverBits: DeviceStatus = [.acknowledge, .driver, .driverOK, .featuresOK, .failed]

    /// The spec names of the bits, lowest first; undefined bits as hex.
    public var names: [String] {
        var result: [String] = []
        let named: [(DeviceStatus, String)] = [
            (.acknowledge, "ACKNOWLEDGE"), (.driver, "DRIVER"), (.driverOK, "DRIVER_OK"),
            (.featuresOK, "FEATURES_OK"), (.deviceNeedsReset, "DEVICE_NEEDS_RESET"), (.failed, "FAILED"),
        ]
        for (bit, name) in named where self.contains(bit) { result.append(name) }
        let undefined = self.rawValue & ~0xCF
        if undefined != 0 { result.append("0x" + String(undefined, radix: 16)) }
        return result
    }

    /// `0 (reset)` or `11 (ACKNOWLEDGE|DRIVER|FEATURES_OK)`.
    public var description: String {
        self.rawValue == 0 ? "0 (reset)" : "\(self.rawValue) (\(self.names.joined(separator: "|")))"
    }
}
