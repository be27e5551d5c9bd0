import GuestMemory
import VirtioModel

/// One packed queue as a guest memory dump shows it, for the rules that read memory.
public struct PackedQueueContext: Sendable {
    public var addresses: QueueAddresses
    /// The ring and event suppression structures, when they lie in the dump.
    public var snapshot: PackedQueueSnapshot?
    /// VIRTIO_F_EVENT_IDX was negotiated.
    public var eventIndex: Bool
    /// The lists made available and not yet read by the device, walked (empty when the
    /// device's position is unknown).
    public var lists: [DescriptorChain]
}

/// Checks a packed queue's layout and event suppression structures in a dump.
protocol PackedRule: Rule, Sendable {
    /// Messages for each violation, empty when the rule holds.
    static func check(_ queue: PackedQueueContext) -> [String]
}
