import TraceSources

/// A virtio-mmio QueueNotify write waiting for QEMU's `virtio_queue_notify`, which the same
/// thread traces next when QEMU takes the notification (MMIO-NOTIFY-QUEUE).
struct UnmatchedNotify: Sendable {
    var value: UInt64
    var place: TracePlace
    /// The host thread that traced the write: another thread's events may come in between.
    var thread: UInt32?
}

extension Analyzer {
    /// The most QueueNotify writes held while the trace has shown no `virtio_queue_notify` yet.
    static let maximumEarlyDroppedNotifies = 16

    /// The next event of the thread that wrote QueueNotify: its `virtio_queue_notify`, or a
    /// notification QEMU dropped. Before the trace has shown any `virtio_queue_notify`, a drop
    /// is held: a trace without that event would show every notification as dropped.
    @inline(never)
    mutating func followNotify(_ pending: UnmatchedNotify, to record: TraceRecord) {
        self.unmatchedNotify = nil
        if case .queueNotify = record.event { return }
        // A device that set DEVICE_NEEDS_RESET itself (QEMU's virtio_error) ignores every
        // notification: not the driver's fault.
        guard !self.deviceSetNeedsReset else { return }
        if self.sawQueueNotifyEvent {
            self.emitDroppedNotify(pending)
        } else if self.earlyDroppedNotifies.count < Self.maximumEarlyDroppedNotifies {
            self.earlyDroppedNotifies.append(pending)
        }
    }

    /// The trace shows QEMU's `virtio_queue_notify`: the drops held so far are reported.
    mutating func notifyEventSeen() {
        guard !self.sawQueueNotifyEvent else { return }
        self.sawQueueNotifyEvent = true
        for dropped in self.earlyDroppedNotifies { self.emitDroppedNotify(dropped) }
        self.earlyDroppedNotifies = []
    }

    mutating func emitDroppedNotify(_ dropped: UnmatchedNotify) {
        self.emit(
            NotifyNamesQueue.info, NotifyNamesQueue.message(value: dropped.value), line: dropped.place.line,
            time: dropped.place.timestamp)
    }
}
