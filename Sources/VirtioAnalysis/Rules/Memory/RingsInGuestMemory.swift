import GuestMemory

/// The descriptor table and both rings lie in guest memory (in a dump: in the dump).
///
/// Spec: virtio v1.2 §2.7 (sizes of the parts); QEMU: "Cannot map descriptor ring".
struct RingsInGuestMemory: SnapshotRule {
    static let info = QEMUReported.ringSizes

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        // A queue of size 0 has no rings to map; SPLIT-QSIZE-POW2 reports it.
        queue.ringsMapped || queue.addresses.size == 0 ? [] : ["the rings of this queue are not (wholly) in the dump"]
    }
}
