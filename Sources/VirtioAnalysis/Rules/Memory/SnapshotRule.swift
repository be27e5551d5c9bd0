import GuestMemory
import VirtioModel

/// One queue as a guest memory dump shows it, for the rules that read memory: a split queue's
/// layout and chains, or a packed queue's lists (its layout is ``PackedQueueContext``'s).
public struct QueueSnapshotContext: Sendable {
    public var addresses: QueueAddresses
    /// The chains the device owns: available and not yet used, each head walked once (a
    /// packed queue: the lists available and not yet read).
    public var chains: [DescriptorChain]
    /// Heads that appear again among the owned ones (offered twice while in flight; split).
    public var repeatedHeads: [UInt16]
    /// Whether the rings lie wholly in the dump.
    public var ringsMapped: Bool
    /// The dump, for rules that read the buffers (request headers).
    public var memory: GuestMemoryMap
    /// The queue's index in its device (QMP, a trace), or its position among `--queue`s.
    public var index: Int
    /// The device's type, when known (QMP, the trace, or `--device`).
    public var deviceType: DeviceType?
    /// The queue's role in its device, when the type and the queue's index are known.
    public var role: QueueRole
    /// The negotiated features, when known (QMP or the trace).
    public var features: FeatureBits?
    /// A block device's capacity in 512-byte sectors, when known (QMP `query-block`, or
    /// `--capacity`).
    public var blockCapacity: UInt64?
    /// A network device's `mtu` (§5.1.4), when known (QMP `qom-get` of QEMU's `host_mtu`, or
    /// `--mtu`).
    public var netMTU: UInt16? = nil
    /// Split queues: the completed chains that still describe their requests, oldest first
    /// (``CompletedChains``); `usedIndex` is the used ring's `idx`, and
    /// `allCompletionsInRing` says the first of them is the queue's first completion.
    public var completed: [CompletedChain] = []
    public var usedIndex: UInt16?
    public var allCompletionsInRing = false
    /// Split queues: the available and used rings' `flags` as read, and whether
    /// VIRTIO_F_EVENT_IDX was negotiated (nil: not known).
    public var availFlags: AvailFlags?
    public var usedFlags: UsedFlags?
    public var eventIndex: Bool?

    /// The owned chains the walk found whole: chains with a structural defect are reported by
    /// their own rules and not judged again for their contents.
    public var wholeChains: [DescriptorChain] {
        // Mostly all of them (always, for the one chain a recording judges): no copy then.
        self.chains.contains { !$0.defects.isEmpty } ? self.chains.filter { $0.defects.isEmpty } : self.chains
    }
}

/// Checks a queue's layout and rings in a dump.
protocol SnapshotRule: Rule, Sendable {
    /// Messages for each violation, empty when the rule holds.
    static func check(_ queue: QueueSnapshotContext) -> [String]
}

extension RingFlags {
    /// What is wrong with `field` (`avail.flags`, `used.flags`) holding this value, `bit` being
    /// the name of its one defined bit; nil when the value is allowed (``isAllowed(eventIndex:)``).
    func problem(_ field: String, bit: String, eventIndex: Bool?) -> String? {
        guard !self.isAllowed(eventIndex: eventIndex) else { return nil }
        if self.rawValue == 1 {
            return "\(field) is 1 (\(bit)) with VIRTIO_F_EVENT_IDX negotiated: it must stay 0, the event index says when to notify"
        }
        return "\(field) is 0x\(String(self.rawValue, radix: 16)): only 0 and 1 (\(bit)) are defined"
            + (eventIndex == true ? ", and with VIRTIO_F_EVENT_IDX only 0" : "")
    }
}
