import GuestMemory
import VirtioModel

/// One split queue as a guest memory dump shows it, for the rules that read memory.
public struct QueueSnapshotContext: Sendable {
    public var addresses: SplitQueueAddresses
    /// The rings, when they lie in the dump.
    public var snapshot: SplitQueueSnapshot?
    /// The chains the device owns: available and not yet used.
    public var chains: [DescriptorChain]
    /// Whether the rings lie wholly in the dump.
    public var ringsMapped: Bool
}

/// Checks a queue's layout and rings in a dump.
protocol SnapshotRule: Rule, Sendable {
    /// Messages for each violation, empty when the rule holds.
    static func check(_ queue: QueueSnapshotContext) -> [String]
}
