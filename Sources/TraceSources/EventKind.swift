/// The virtio-related event names vqscope decodes, and how to find one from a line's bytes.
enum EventKind: Equatable {
    case allocElement, pop, fill, flush, queueNotify, notify, notifyIrqfd, setStatus
    case mmioRead, mmioWrite, mmioGuestPage, mmioQueueWrite, mmioSettingIRQ
    case pciNotify, pciNotifyWrite, pciNotifyWritePIO
    case blkRequestComplete, blkReadWriteComplete, blkHandleRead, blkHandleWrite, blkSubmitMultiRequest
    case blkOther(BlockEventName)
    case blkDataPlane(started: Bool)
    case rng(RNGEvent)
    case serialSendControl, serialHandleControl
    case serialOther(SerialEventName)
    case netOther(String)
    case inputQueueFull
    case pciConfigWrite, memoryRegionWrite

    /// Event names of QEMU 7.2 and 10.x, from their `trace-events` files.
    static let names: [(String, EventKind)] = {
        var table: [(String, EventKind)] = [
            ("virtqueue_alloc_element", .allocElement),
            ("virtqueue_pop", .pop),
            ("virtqueue_fill", .fill),
            ("virtqueue_flush", .flush),
            ("virtio_queue_notify", .queueNotify),
            ("virtio_notify", .notify),
            ("virtio_notify_irqfd", .notifyIrqfd),
            ("virtio_notify_irqfd_deferred_fn", .notifyIrqfd),
            ("virtio_set_status", .setStatus),
            ("virtio_mmio_read", .mmioRead),
            ("virtio_mmio_write_offset", .mmioWrite),
            ("virtio_mmio_guest_page", .mmioGuestPage),
            ("virtio_mmio_queue_write", .mmioQueueWrite),
            ("virtio_mmio_setting_irq", .mmioSettingIRQ),
            ("virtio_pci_notify", .pciNotify),
            ("virtio_pci_notify_write", .pciNotifyWrite),
            ("virtio_pci_notify_write_pio", .pciNotifyWritePIO),
            ("virtio_blk_req_complete", .blkRequestComplete),
            ("virtio_blk_rw_complete", .blkReadWriteComplete),
            ("virtio_blk_handle_read", .blkHandleRead),
            ("virtio_blk_handle_write", .blkHandleWrite),
            ("virtio_blk_submit_multireq", .blkSubmitMultiRequest),
            ("virtio_serial_send_control_event", .serialSendControl),
            ("virtio_serial_handle_control_message", .serialHandleControl),
            ("virtio_input_queue_full", .inputQueueFull),
            ("pci_cfg_write", .pciConfigWrite),
            ("memory_region_ops_write", .memoryRegionWrite),
        ]
        table += [("virtio_blk_data_plane_start", .blkDataPlane(started: true))]
        table += [("virtio_blk_data_plane_stop", .blkDataPlane(started: false))]
        table += [BlockEventName.zoneReportComplete, .zoneManagementComplete,
            .zoneAppendComplete, .handleZoneReport, .handleZoneManagement, .handleZoneResetAll, .handleZoneAppend,
        ].map { ($0.rawValue, .blkOther($0)) }
        table += [RNGEvent.guestNotReady, .cpuIsStopped, .popped, .pushed, .request, .vmStateChange]
            .map { ($0.rawValue, .rng($0)) }
        table += [SerialEventName.throttlePort, .handleControlMessagePort, .consoleFlushBuffer, .consoleCharRead,
            .consoleCharEvent,
        ].map { ($0.rawValue, .serialOther($0)) }
        table += [
            "virtio_net_announce_notify", "virtio_net_announce_timer", "virtio_net_handle_announce",
            "virtio_net_post_load_device", "virtio_net_rss_disable", "virtio_net_rss_error", "virtio_net_rss_enable",
            "virtio_net_rss_load", "virtio_net_rss_attach_ebpf",
        ].map { ($0, .netOther($0)) }
        return table
    }()

    /// Open-addressed table keyed by an FNV-1a hash of the name; each slot keeps the name's bytes
    /// to confirm a match, so lookups allocate nothing.
    private static let table: [(hash: UInt64, name: [UInt8], kind: EventKind)?] = {
        var slots = [(hash: UInt64, name: [UInt8], kind: EventKind)?](repeating: nil, count: 256)
        for (name, kind) in names {
            let bytes = Array(name.utf8)
            let hash = bytes.withUnsafeBufferPointer { Self.hash($0) }
            var slot = Int(hash & 255)
            while slots[slot] != nil { slot = (slot + 1) & 255 }
            slots[slot] = (hash, bytes, kind)
        }
        return slots
    }()

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    static func lookup(_ name: UnsafeBufferPointer<UInt8>) -> EventKind? {
        guard name.count <= 40 else { return nil }
        let hash = Self.hash(name)
        var slot = Int(hash & 255)
        while let entry = Self.table[slot] {
            if entry.hash == hash, Bytes.equal(name, entry.name) { return entry.kind }
            slot = (slot + 1) & 255
        }
        return nil
    }
}
