/// The descriptor table and both rings lie in guest memory (in a dump: in the dump).
///
/// Spec: virtio v1.2 §2.7 (sizes of the parts); QEMU: "Cannot map descriptor ring".
struct RingsInGuestMemory: SnapshotRule {
    static let info = QEMUReported.ringSizes

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        queue.ringsMapped ? [] : ["the rings of this queue are not (wholly) in the dump"]
    }
}
