/// A packed queue's device that wrote into a list says so with VIRTQ_DESC_F_WRITE in the used
/// descriptor: without the flag the Element Length is reserved and drivers ignore it, so a
/// driver that keeps to the letter cannot know how many bytes arrived (derived). QEMU's
/// devices set no WRITE in used descriptors; Linux reads the length regardless.
///
/// Spec: virtio v1.2 §2.8.4 ("Element Length is reserved for used descriptors without the
/// VIRTQ_DESC_F_WRITE flag, and is ignored by drivers"; 1.1: §2.7.4).
enum PackedUsedWriteFlag {
    static let info = RuleInfo(
        id: "PACKED-USED-WRITE-FLAG", severity: .warning, section: "2.8.4", section11: "2.7.4",
        summary: "a packed used descriptor that returns written bytes carries VIRTQ_DESC_F_WRITE",
        party: .device, evidence: "a recording's used descriptors without WRITE, with a length, for lists with writable buffers")
}
