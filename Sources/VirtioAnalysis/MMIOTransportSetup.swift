import VirtioModel

/// A virtio-mmio transport's registers as its driver writes them, for a watcher of the rings
/// (`vqscope record`): the analysis' register model (``DeviceState/apply(_:)``,
/// ``DeviceState/programmedQueues``) fed one write at a time, reporting when a queue becomes
/// usable and when the driver resets the device or a queue.
///
/// Spec: virtio v1.2 §4.2.3.2 (a queue is usable once QueueReady is 1), §4.2.4 (legacy: once its
/// QueuePFN is written, non-zero), §4.2.2 (Status 0 resets the device). Writes are taken as
/// QEMU 7.2 takes them (hw/virtio/virtio-mmio.c, `virtio_mmio_write`): registers only in 4-byte
/// writes, a QueueSel of 1024 or more ignored, any non-zero QueueReady, a legacy QueuePFN of 0
/// resetting the device; it has no QueueReset (virtio 1.2) yet, so neither has this.
public struct MMIOTransportSetup: Sendable {
    public enum Change: Sendable, Equatable {
        case reset
        case queueEnabled(ProgrammedQueue)
    }

    private var state = DeviceState(vdev: 0, ordinal: 0)
    /// The queues made usable since the last reset.
    private var enabled: Set<Int> = []

    public init() {}

    /// The features the driver wrote (DriverFeatures, both words) since the last reset.
    public var driverFeatures: FeatureBits {
        FeatureBits(rawValue: UInt64(self.state.driverFeatureWords[1] ?? 0) << 32 | UInt64(self.state.driverFeatureWords[0] ?? 0))
    }

    /// The queues made usable since the last reset, as programmed.
    public var enabledQueues: [ProgrammedQueue] { self.state.programmedQueues.filter { self.enabled.contains($0.index) } }

    /// Applies a write of `value` (`size` bytes) at `offset` in the register block; what it
    /// changed for a ring watcher.
    public mutating func write(offset: UInt64, value: UInt64, size: UInt32) -> Change? {
        guard offset >= MMIORegister.configOffset || size == 4 else { return nil }
        let register = MMIORegister(rawValue: offset)
        switch register {
        case .status:
            return self.statusWritten(DeviceStatus(rawValue: UInt8(truncatingIfNeeded: value)))
        case .queuePFN where value == 0:
            return self.statusWritten([])
        case .queueSel where value >= 1024:
            return nil
        default:
            break
        }
        self.state.apply(RegisterWrite(register: register, offset: offset, value: value, line: 0))
        let selected = Int(self.state.queueSelect)
        guard register == .queueReady && value != 0 || register == .queuePFN,
            let queue = self.state.programmedQueues.first(where: { $0.index == selected })
        else { return nil }
        self.enabled.insert(selected)
        return .queueEnabled(queue)
    }

    /// As the analysis takes a status write: a reset clears the features and QueueReady, and
    /// keeps GuestPageSize (QEMU resets the device, not the transport).
    private mutating func statusWritten(_ new: DeviceStatus) -> Change? {
        self.state.apply(StatusChange(old: self.state.status, new: new, origin: .driver))
        guard new.rawValue == 0 else { return nil }
        self.enabled = []
        return .reset
    }
}
