/// Where a virtqueue lives in guest-physical memory: its three areas (virtio v1.2 §2.6).
/// For a split queue (§2.7) they are the descriptor table, the available ring and the used
/// ring; for a packed queue (§2.8) the descriptor ring and the driver and device event
/// suppression structures.
public struct QueueAddresses: Sendable, Equatable {
    /// The descriptor area: descriptor table (split) or descriptor ring (packed).
    public var descriptorArea: UInt64
    /// The driver area: available ring (split) or driver event suppression (packed).
    public var driverArea: UInt64
    /// The device area: used ring (split) or device event suppression (packed).
    public var deviceArea: UInt64
    public var size: UInt16

    public init(descriptorArea: UInt64, driverArea: UInt64, deviceArea: UInt64, size: UInt16) {
        self.descriptorArea = descriptorArea
        self.driverArea = driverArea
        self.deviceArea = deviceArea
        self.size = size
    }
}
