import Testing
import VirtioModel

/// The virtio-pci common configuration structure (§4.1.4.3) driven write by write, as QEMU
/// takes the writes.
struct CommonConfigTests {
    typealias Field = CommonConfig.Field

    /// Writes `field` = `value`; what it changed.
    @discardableResult
    static func write(_ config: inout CommonConfig, _ field: Field, _ value: UInt64) -> CommonConfig.Change? {
        config.write(offset: field.rawValue, value: value)
    }

    /// Linux's sequence for one queue: select, size, the three areas in halves, enable.
    static func setUp(_ config: inout CommonConfig, queue: UInt64, size: UInt64?, base: UInt64) -> CommonConfig.Change? {
        Self.write(&config, .queueSelect, queue)
        if let size { Self.write(&config, .queueSize, size) }
        for (low, high, address) in [(Field.queueDescLow, Field.queueDescHigh, base), (.queueDriverLow, .queueDriverHigh, base + 0x1000),
            (.queueDeviceLow, .queueDeviceHigh, base + 0x2000)]
        {
            Self.write(&config, low, address & 0xFFFF_FFFF)
            Self.write(&config, high, address >> 32)
        }
        return Self.write(&config, .queueEnable, 1)
    }

    @Test("a queue enabled after its size and areas were written: enabled with them, 64-bit addresses from two halves")
    func queueEnabled() {
        var config = CommonConfig()
        let change = Self.setUp(&config, queue: 2, size: 64, base: 0x1_2345_6000)
        let setup = CommonConfig.QueueSetup(size: 64, descriptorArea: 0x1_2345_6000, driverArea: 0x1_2345_7000, deviceArea: 0x1_2345_8000)
        #expect(change == .queueEnabled(index: 2, setup: setup))
        #expect(config.enabledQueues.map(\.index) == [2])
        #expect(config.enabledQueues.first?.setup == setup)
    }

    @Test("the driver's features from both 32-bit words; a third word is ignored, as QEMU keeps two")
    func driverFeatures() {
        var config = CommonConfig()
        Self.write(&config, .driverFeatureSelect, 0)
        Self.write(&config, .driverFeature, 0x3000_0000)  // INDIRECT_DESC, EVENT_IDX
        Self.write(&config, .driverFeatureSelect, 1)
        Self.write(&config, .driverFeature, 0x5)  // VERSION_1, RING_PACKED
        Self.write(&config, .driverFeatureSelect, 2)
        Self.write(&config, .driverFeature, 0xFFFF_FFFF)
        #expect(config.driverFeatures == [.indirectDescriptors, .eventIndex, .version1, .ringPacked])
        // Rewriting the low word keeps the high one.
        Self.write(&config, .driverFeatureSelect, 0)
        Self.write(&config, .driverFeature, 0)
        #expect(config.driverFeatures == [.version1, .ringPacked])
    }

    @Test("without a queue_size write the size stays unknown (the device's default applies)")
    func sizeNotWritten() {
        var config = CommonConfig()
        guard case .queueEnabled(0, let setup) = Self.setUp(&config, queue: 0, size: nil, base: 0x10000) else {
            Issue.record("no queue enabled")
            return
        }
        #expect(setup.size == nil)
        #expect(setup.descriptorArea == 0x10000)
    }

    @Test("queue_select of 1024 or more is ignored: the writes that follow go to the queue selected before")
    func selectOutOfRange() {
        var config = CommonConfig()
        Self.write(&config, .queueSelect, 3)
        Self.write(&config, .queueSelect, 1024)
        Self.write(&config, .queueSize, 16)
        #expect(Self.write(&config, .queueEnable, 1) == .queueEnabled(index: 3, setup: .init(size: 16)))
    }

    @Test("device_status 0 resets features and queues; other statuses are reported and keep them")
    func reset() {
        var config = CommonConfig()
        Self.write(&config, .driverFeature, 0x1000_0000)
        _ = Self.setUp(&config, queue: 0, size: 8, base: 0x10000)
        #expect(Self.write(&config, .deviceStatus, 0x0F) == .status([.acknowledge, .driver, .featuresOK, .driverOK]))
        #expect(config.enabledQueues.count == 1)
        #expect(Self.write(&config, .deviceStatus, 0) == .status([]))
        #expect(config.enabledQueues.isEmpty)
        #expect(config.driverFeatures.rawValue == 0)
        Self.write(&config, .queueSelect, 0)
        #expect(Self.write(&config, .queueEnable, 1) == .queueEnabled(index: 0, setup: .init()))
    }

    @Test("queue_reset 1 disables the selected queue only; queue_enable or queue_reset of another value changes nothing")
    func queueReset() {
        var config = CommonConfig()
        _ = Self.setUp(&config, queue: 0, size: 8, base: 0x10000)
        _ = Self.setUp(&config, queue: 1, size: 8, base: 0x20000)
        #expect(Self.write(&config, .queueEnable, 0) == nil)
        #expect(Self.write(&config, .queueEnable, 0x1_0001) == nil)  // QEMU wants the value 1, not its low half
        #expect(Self.write(&config, .queueReset, 0) == nil)
        #expect(Self.write(&config, .queueReset, 1) == .queueReset(index: 1))
        #expect(config.enabledQueues.map(\.index) == [0])
    }

    @Test("read-only fields, MSI-X vectors and offsets inside a field change nothing", arguments: [0x00, 0x04, 0x10, 0x12, 0x15, 0x1A, 0x1E, 0x22, 0x38, 0x3C, 0xFFF])
    func ignoredOffsets(offset: UInt64) {
        var config = CommonConfig()
        Self.write(&config, .queueSelect, 0)
        #expect(config.write(offset: offset, value: 0xFFFF_FFFF) == nil)
        #expect(Self.write(&config, .queueEnable, 1) == .queueEnabled(index: 0, setup: .init()))
    }

    @Test("the fields a write covers, by its bytes: one field, a wide write across three, a write inside a field, an oversized size taken as 8")
    func touchedFields() {
        #expect(Field.touched(offset: 0x12, size: 2) == [.numQueues])
        #expect(Field.touched(offset: 0x14, size: 4) == [.deviceStatus, .configGeneration, .queueSelect])
        #expect(Field.touched(offset: 0x22, size: 1) == [.queueDescLow])
        #expect(Field.touched(offset: 0x38, size: 0xFFFF_FFFF) == [.queueNotifyData, .queueReset])
        #expect(Field.touched(offset: 0xFFF, size: 8).isEmpty)
        #expect(Field.touched(offset: .max - 2, size: 8).isEmpty)
        #expect(Field.allCases.filter(\.isReadOnly) == [.deviceFeature, .numQueues, .configGeneration, .queueNotifyOff, .queueNotifyData])
    }

    @Test("the fields tile the structure: each starts where the one before ends, up to queue_reset's end at 0x3C")
    func layout() {
        var end: UInt64 = 0
        for field in Field.allCases.sorted(by: { $0.rawValue < $1.rawValue }) {
            #expect(field.rawValue == end, "\(field.name)")
            end = field.rawValue + field.width
        }
        #expect(end == 0x3C)
    }

    @Test("the selected queue and whether it is enabled: set by queue_enable, cleared by queue_reset and by a device reset")
    func selectedQueueEnabled() {
        var config = CommonConfig()
        _ = Self.setUp(&config, queue: 2, size: 0x40, base: 0x10_0000)
        #expect(config.selectedQueue == 2 && config.selectedQueueEnabled)
        Self.write(&config, .queueSelect, 3)
        #expect(config.selectedQueue == 3 && !config.selectedQueueEnabled)
        Self.write(&config, .queueSelect, 2)
        Self.write(&config, .queueReset, 1)
        #expect(!config.selectedQueueEnabled)
        _ = Self.setUp(&config, queue: 2, size: 0x40, base: 0x10_0000)
        Self.write(&config, .deviceStatus, 0)
        #expect(config.selectedQueue == 0 && !config.selectedQueueEnabled)
    }
}
