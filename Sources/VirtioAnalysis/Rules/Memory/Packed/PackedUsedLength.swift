/// A packed queue's used descriptor that carries VIRTQ_DESC_F_WRITE reports no more bytes
/// than the list it returns has writable: the length is what the device wrote (without WRITE
/// it is reserved and not judged). Checked over time, on a recording: in a snapshot the used
/// descriptor has overwritten the list's first slot, and with it what the list could take.
///
/// Spec: virtio v1.2 §2.8.4 ("Element Length … the number of bytes written"), §2.8.6
/// (1.1: §2.7.4, §2.7.6).
enum PackedUsedLength {
    static let info = RuleInfo(
        id: "PACKED-USED-LEN", severity: .error, section: "2.8.4", section11: "2.7.4",
        summary: "a packed used descriptor with WRITE reports no more bytes than its list has writable",
        party: .device, evidence: "a recording's used descriptors against the lists they return (`vqscope record`)")
}
