#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The virtio-net events (none per packet); decoded by name only.
enum NetEventName: String, CaseIterable {
    case announceNotify = "virtio_net_announce_notify"
    case announceTimer = "virtio_net_announce_timer"
    case handleAnnounce = "virtio_net_handle_announce"
    case postLoadDevice = "virtio_net_post_load_device"
    case rssDisable = "virtio_net_rss_disable"
    case rssError = "virtio_net_rss_error"
    case rssEnable = "virtio_net_rss_enable"
    case rssLoad = "virtio_net_rss_load"
    case rssAttachEBPF = "virtio_net_rss_attach_ebpf"
}

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
    case netOther(NetEventName)
    case inputQueueFull
    case pciConfigWrite, memoryRegionWrite, memoryRegionRead

    /// The events with a string argument (the others are `u64`s only).
    var carriesString: Bool {
        switch self {
        case .pciConfigWrite, .memoryRegionWrite, .memoryRegionRead: return true
        default: return false
        }
    }

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
            ("memory_region_ops_read", .memoryRegionRead),
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
        table += NetEventName.allCases.map { ($0.rawValue, .netOther($0)) }
        return table
    }()

    /// Open-addressed table keyed by ``quickHash(_:)``. The names' bytes sit in one buffer that
    /// lives as long as the process, so a lookup touches no reference count.
    private struct Slot {
        var hash: UInt64
        var offset: Int
        var length: Int
        var kind: EventKind
    }

    /// The length of the longest name (`virtio_serial_handle_control_message_port`, 41 bytes):
    /// a longer word is no event vqscope knows.
    private static let longestName = names.reduce(0) { max($0, $1.0.utf8.count) }

    private static let tableBits = 8
    private static let tableSize = 1 << tableBits

    nonisolated(unsafe) private static let slots: UnsafeMutableBufferPointer<Slot?> = {
        let slots = UnsafeMutableBufferPointer<Slot?>.allocate(capacity: tableSize)
        slots.initialize(repeating: nil)
        var offset = 0
        for (name, kind) in names {
            let bytes = Array(name.utf8)
            precondition(bytes.count >= 8, "internal inconsistency: event name \(name) shorter than 8 bytes")
            let hash = bytes.withUnsafeBufferPointer { Self.quickHash($0) }
            var slot = Self.slot(of: hash)
            while slots[slot] != nil { slot = (slot + 1) & (tableSize - 1) }
            slots[slot] = Slot(hash: hash, offset: offset, length: bytes.count, kind: kind)
            offset += bytes.count
        }
        return slots
    }()

    nonisolated(unsafe) private static let nameBytes: UnsafeBufferPointer<UInt8> = {
        let all = names.flatMap { Array($0.0.utf8) }
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: all.count)
        _ = buffer.initialize(from: all)
        return UnsafeBufferPointer(buffer)
    }()

    /// A hash of a name of at least 8 bytes from its length and its first and last 8 bytes
    /// (every event name differs from the others there); collisions are resolved by comparing bytes.
    @inline(__always)
    static func quickHash(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let base = UnsafeRawPointer(name.baseAddress!)
        let first = base.loadUnaligned(as: UInt64.self)
        let last = base.loadUnaligned(fromByteOffset: name.count - 8, as: UInt64.self)
        return (first &* 0x9E37_79B9_7F4A_7C15) ^ (last &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(name.count)
    }

    @inline(__always)
    private static func slot(of hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> UInt64(64 - tableBits)) }

    /// The kind of the event called `name`, or nil for any other word.
    static func lookup(_ name: UnsafeBufferPointer<UInt8>) -> EventKind? {
        guard name.count >= 8, name.count <= Self.longestName else { return nil }
        let hash = Self.quickHash(name)
        var slot = Self.slot(of: hash)
        while let entry = Self.slots[slot] {
            if entry.hash == hash, entry.length == name.count,
                memcmp(name.baseAddress!, Self.nameBytes.baseAddress! + entry.offset, entry.length) == 0
            {
                return entry.kind
            }
            slot = (slot + 1) & (Self.tableSize - 1)
        }
        return nil
    }
}
