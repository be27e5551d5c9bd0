/// A host pointer as QEMU prints it with `%p` (`(nil)` is 0). Pointers identify devices
/// (`vdev`), queues (`vq`) and requests (`elem`), and QEMU's allocator reuses them.
public typealias HostPointer = UInt64

/// A virtio-related QEMU trace event, decoded from its arguments.
///
/// The event set is QEMU 7.2's and 10.x's (`hw/virtio`, `hw/block`, `hw/char`, `hw/net`,
/// `hw/input` trace-events), as described in `docs/trace-formats.md`.
public enum TraceEvent: Sendable, Equatable {
    // hw/virtio/virtio.c
    case allocElement(elem: HostPointer, size: UInt64, inNum: UInt32, outNum: UInt32)
    case pop(vq: HostPointer, elem: HostPointer, inNum: UInt32, outNum: UInt32)
    case fill(vq: HostPointer, elem: HostPointer, length: UInt32, index: UInt32)
    case flush(vq: HostPointer, count: UInt32)
    case queueNotify(vdev: HostPointer, queue: Int32, vq: HostPointer)
    /// `virtio_notify`: an interrupt was sent (after `virtio_should_notify` said yes).
    case notify(vdev: HostPointer, vq: HostPointer)
    /// `virtio_notify_irqfd` (7.2) or `virtio_notify_irqfd_deferred_fn` (10.x).
    case notifyIrqfd(vdev: HostPointer, vq: HostPointer)
    case setStatus(vdev: HostPointer, value: UInt8)
    // hw/virtio/virtio-mmio.c
    case mmioRead(offset: UInt64)
    case mmioWrite(offset: UInt64, value: UInt64)
    case mmioGuestPage(size: UInt64, shift: Int32)
    case mmioQueueWrite(value: UInt64, maximum: Int32)
    case mmioSettingIRQ(level: Int32)
    // hw/virtio/virtio-pci.c
    case pciNotify(vector: UInt16)
    case pciNotifyWrite(address: UInt64, value: UInt64, size: UInt32, portIO: Bool)
    // hw/block/virtio-blk.c
    case blkRequestComplete(vdev: HostPointer, request: HostPointer, status: Int32)
    case blkReadWriteComplete(vdev: HostPointer, request: HostPointer, result: Int32)
    case blkHandleRead(vdev: HostPointer, request: HostPointer, sector: UInt64, sectors: UInt64)
    case blkHandleWrite(vdev: HostPointer, request: HostPointer, sector: UInt64, sectors: UInt64)
    case blkSubmitMultiRequest(vdev: HostPointer, start: Int32, requests: Int32, offset: UInt64, size: UInt64, isWrite: Bool)
    /// Other virtio-blk events that name the device (zoned commands).
    case blkOther(name: BlockEventName, vdev: HostPointer)
    /// `virtio_blk_data_plane_start`/`_stop` (7.2): the pointer is the dataplane object, not the device.
    case blkDataPlane(started: Bool, dataPlane: HostPointer)
    // hw/virtio/virtio-rng.c (the `rng` pointer is the device's `vdev`)
    case rng(RNGEvent, vdev: HostPointer, bytes: UInt64)
    // hw/char/virtio-serial-bus.c, virtio-console.c
    case serialSendControl(port: UInt32, event: UInt16, value: UInt16)
    case serialHandleControl(event: UInt16, value: UInt16)
    case serialOther(name: SerialEventName, port: UInt32)
    // hw/net/virtio-net.c (no per-packet events exist)
    case netOther(name: String)
    // hw/input/virtio-input.c
    case inputQueueFull
    // hw/pci/pci.c and softmmu/memory.c, when they name a virtio device
    case pciConfigWrite(device: String, offset: UInt32, value: UInt32)
    case memoryRegionWrite(region: String, address: UInt64, value: UInt64, size: UInt32)
    /// A guest read and the value the region returned (`memory_region_ops_read`).
    case memoryRegionRead(region: String, address: UInt64, value: UInt64, size: UInt32)
    /// A message QEMU printed about a virtio problem (`virtio_error`, guest errors), with the
    /// line's text (at most 240 bytes of it).
    case qemuMessage(QEMUMessage, text: String)
}

public enum RNGEvent: String, Sendable {
    case guestNotReady = "virtio_rng_guest_not_ready"
    case cpuIsStopped = "virtio_rng_cpu_is_stopped"
    case popped = "virtio_rng_popped"
    case pushed = "virtio_rng_pushed"
    case request = "virtio_rng_request"
    case vmStateChange = "virtio_rng_vm_state_change"
}

public enum BlockEventName: String, Sendable {
    case zoneReportComplete = "virtio_blk_zone_report_complete"
    case zoneManagementComplete = "virtio_blk_zone_mgmt_complete"
    case zoneAppendComplete = "virtio_blk_zone_append_complete"
    case handleZoneReport = "virtio_blk_handle_zone_report"
    case handleZoneManagement = "virtio_blk_handle_zone_mgmt"
    case handleZoneResetAll = "virtio_blk_handle_zone_reset_all"
    case handleZoneAppend = "virtio_blk_handle_zone_append"
}

public enum SerialEventName: String, Sendable {
    case throttlePort = "virtio_serial_throttle_port"
    case handleControlMessagePort = "virtio_serial_handle_control_message_port"
    case consoleFlushBuffer = "virtio_console_flush_buf"
    case consoleCharRead = "virtio_console_chr_read"
    case consoleCharEvent = "virtio_console_chr_event"
}

/// When an event happened, as the trace recorded it.
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Nanoseconds since the clock's epoch (Unix epoch for wall-clock log timestamps).
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Nanoseconds from `earlier` to this time, saturating at the bounds of Int64 (timestamps
    /// from a hostile trace can lie centuries apart).
    public func nanoseconds(since earlier: Timestamp) -> Int64 { Self.interval(from: earlier.nanoseconds, to: self.nanoseconds) }

    /// `end − start`, saturating at the bounds of Int64.
    public static func interval(from start: Int64, to end: Int64) -> Int64 {
        let (difference, overflow) = end.subtractingReportingOverflow(start)
        if !overflow { return difference }
        return end > start ? .max : .min
    }
}

/// One decoded event with where it came from.
public struct TraceRecord: Sendable, Equatable {
    public var event: TraceEvent
    /// 1-based line number in the input.
    public var line: Int
    public var timestamp: Timestamp?
    /// The host thread id, for the `tid@sec.usec:` form.
    public var thread: UInt32?

    public init(event: TraceEvent, line: Int, timestamp: Timestamp? = nil, thread: UInt32? = nil) {
        self.event = event
        self.line = line
        self.timestamp = timestamp
        self.thread = thread
    }
}
