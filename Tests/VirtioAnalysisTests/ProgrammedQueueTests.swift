import GuestMemory
import Testing
import VirtioAnalysis
import VirtioModel
import VirtioTestSupport

/// The rings a trace shows the driver programming through virtio-mmio registers.
struct ProgrammedQueueTests {
    @Test("version 2: QueueDesc/Driver/Device and QueueNum of the selected queue")
    func modern() throws {
        let report = try analyze(Fixtures.path("traces/rules/MMIO-QUEUE-LOCKED/clean.handwritten.log"))
        let device = try #require(report.devices.first)
        // QueueNum was 0x100, then 0x80 after QueueReady was cleared: the last write counts.
        #expect(device.programmedQueues == [
            ProgrammedQueue(
                index: 0, addresses: QueueAddresses(descriptorArea: 0x1000, driverArea: 0x2000, deviceArea: 0x3000, size: 0x80))
        ])
    }

    @Test("version 1: QueuePFN × GuestPageSize with the legacy layout, on the real legacy Linux trace")
    func legacy() throws {
        let report = try analyze(Fixtures.path("traces/real/linux-mmio-legacy.log.xz"))
        let queues = report.devices.flatMap(\.programmedQueues)
        #expect(queues.count == 69)  // net 3, blk 1, rng 1, virtio-serial 64 (as QMP lists them)
        for queue in queues {
            let a = queue.addresses
            #expect(a.size == 1024)
            #expect(a.descriptorArea % 4096 == 0 && a.descriptorArea > 0)
            // 16 × 1024 bytes of descriptors, then 6 + 2 × 1024 of available ring, rounded up to 4096.
            #expect(a.driverArea == a.descriptorArea + 0x4000 && a.deviceArea == a.descriptorArea + 0x5000)
        }
        let net = try #require(report.devices.first { $0.type == .network })
        #expect(net.programmedQueues.map(\.index) == [0, 1, 2])
    }

    @Test("legacy queues without GuestPageSize, and PCI devices traced without memory_region_ops_write, have no programmed rings")
    func absent() throws {
        let text = """
            100@1700000000.000010:virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x0
            100@1700000000.000020:virtio_set_status vdev 0x55d0c0005000 val 0
            100@1700000000.000030:virtio_mmio_write_offset virtio_mmio_write offset 0x30 value 0x0
            100@1700000000.000040:virtio_mmio_write_offset virtio_mmio_write offset 0x38 value 0x100
            100@1700000000.000050:virtio_mmio_write_offset virtio_mmio_write offset 0x40 value 0x1234
            100@1700000000.000060:virtio_mmio_write_offset virtio_mmio_write offset 0x70 value 0x1
            100@1700000000.000070:virtio_set_status vdev 0x55d0c0005000 val 1

            """
        let report = try analyze(text: text)
        #expect(report.devices.first?.mmioVersion == .legacy)
        #expect(report.devices.first?.programmedQueues == [])
        let pci = try analyze(Fixtures.path("traces/real/linux-pci.log.xz"))
        #expect(pci.devices.allSatisfy { $0.programmedQueues.isEmpty })
    }
}
