import GuestMemory
import VirtioModel

/// A queue's rings as the driver last programmed them: through virtio-mmio registers,
/// QueueDesc/QueueDriver/QueueDevice (Version 2, §4.2.2) or QueuePFN × GuestPageSize with the
/// legacy contiguous layout of a split ring (Version 1, §4.2.4 and §2.7.2); or through the
/// virtio-pci common configuration structure, queue_desc/queue_driver/queue_device when the
/// driver set queue_enable (§4.1.4.3, §4.1.5.1.3). `vqscope inspect --trace` reads these rings
/// from a dump; `analyze RUN_DIR` joins a recording's devices with the trace's by them.
public struct ProgrammedQueue: Sendable, Equatable {
    /// The queue index (QueueSel).
    public var index: Int
    public var addresses: QueueAddresses

    public init(index: Int, addresses: QueueAddresses) {
        self.index = index
        self.addresses = addresses
    }
}

extension DeviceState {
    /// The queues with a size and rings programmed, by index. A legacy queue needs its
    /// GuestPageSize and a non-zero QueuePFN; QueueAlign defaults to 4096. Queues whose
    /// addresses would pass 2^64, or whose QueueAlign is not a power of two, are left out. A
    /// virtio-pci queue needs a `queue_size` write: without one the device's default size
    /// applies, which the trace does not show (SeaBIOS writes none).
    var programmedQueues: [ProgrammedQueue] {
        self.mmioProgrammedQueues + self.pciQueues.sorted { $0.key < $1.key }.compactMap { index, setup in
            guard let size = setup.size, size > 0, setup.descriptorArea != 0 else { return nil }
            return ProgrammedQueue(
                index: index,
                addresses: QueueAddresses(
                    descriptorArea: setup.descriptorArea, driverArea: setup.driverArea, deviceArea: setup.deviceArea, size: size))
        }
    }

    private var mmioProgrammedQueues: [ProgrammedQueue] {
        zip(self.mmioQueues.selects, self.mmioQueues.setups).compactMap { select, setup in
            guard let size = setup.size, size > 0, size <= UInt32(UInt16.max) else { return nil }
            let layout = SplitRingLayout(queueSize: Int(size))
            let addresses: QueueAddresses
            if self.isLegacy {
                guard let frame = setup.pageFrame, frame > 0, let page = self.guestPageSize,
                    let usedOffset = layout.legacyUsedOffset(alignment: UInt64(setup.alignment ?? 4096))
                else { return nil }
                let table = UInt64(frame) * UInt64(page)  // both 32-bit: no overflow
                let (avail, availOverflow) = table.addingReportingOverflow(UInt64(layout.descriptorTableSize))
                let (used, usedOverflow) = table.addingReportingOverflow(usedOffset)
                guard !availOverflow, !usedOverflow else { return nil }
                addresses = QueueAddresses(descriptorArea: table, driverArea: avail, deviceArea: used, size: UInt16(size))
            } else {
                guard setup.descriptorArea != 0 else { return nil }
                addresses = QueueAddresses(
                    descriptorArea: setup.descriptorArea, driverArea: setup.driverArea, deviceArea: setup.deviceArea,
                    size: UInt16(size))
            }
            return ProgrammedQueue(index: Int(select), addresses: addresses)
        }
    }
}
