import VirtioModel

/// The driver stops a virtio-mmio queue by writing 0 to QueueReady and reading QueueReady
/// back: a QueueReady write of 0 for a ready queue, followed by another register write before
/// any QueueReady read, breaks the rule (at that write). QEMU traces the read's offset, not its
/// value, so that the driver waits for the 0 is not judged.
///
/// Spec: virtio v1.2 §4.2.2.2 (1.1: §4.2.2.2) "To stop using the queue the driver MUST write
/// zero (0x0) to this QueueReady register and MUST read the value back to ensure
/// synchronization."
struct MMIOQueueStop: RegisterRule, RegisterReadRule {
    static let info = RuleInfo(
        id: "MMIO-QUEUE-STOP", severity: .error, section: "4.2.2.2", section11: "4.2.2.2",
        summary: "a driver stopping a queue writes 0 to QueueReady and reads QueueReady back before its next write",
        party: .driver, evidence: "virtio-mmio QueueReady (0x044) writes and reads, and the register write after them")

    /// QueueReady reads end the wait (``DeviceState/apply(_:)-read``); they break nothing.
    static let registers: [MMIORegister] = [.queueReady]

    static func check(_ read: RegisterRead, device: DeviceContext) -> String? { nil }

    static func check(_ write: RegisterWrite, device: DeviceContext) -> String? {
        guard let stop = device.queueStopUnread else { return nil }
        return "\(write.register?.name ?? "a configuration byte") written after queue \(stop.queue) was stopped (line \(stop.place.line)) "
            + "with no QueueReady read back in between"
    }

    /// A queue stopped (QueueReady written 0 while it was ready) and not read back yet.
    struct Pending: Sendable, Equatable {
        var queue: UInt32
        var place: TracePlace
    }
}
