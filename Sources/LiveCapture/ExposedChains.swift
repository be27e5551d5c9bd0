import GuestMemory
import VirtioAnalysis
import VirtioModel

/// Watching the chains a split queue's device owns for changes (CLEANUP-NO-TOUCH-EXPOSED):
/// one outstanding chain per scan, in turn, is walked again and compared with the walk made
/// when it was offered. A difference counts only when the used ring, read after the second
/// walk, still does not return the chain: the driver may rewrite descriptors once the device
/// has used them, and a used element written before the change is visible by then (the
/// device publishes used.idx before the driver can see the chain as used).
///
/// Spec: virtio v1.2 §3.3.1 ("the driver MUST NOT alter descriptor table entries which have
/// been exposed in the available ring (and not marked consumed by the device in the used
/// ring) of a live virtqueue").
extension WatchedQueue {
    mutating func checkExposed(memory: GuestMemoryMap, writer: RingRecordWriter) {
        let size = self.addresses.size
        guard !self.suspended, self.packed == nil, size > 0, !self.offers.isEmpty else { return }
        self.exposedTurn = (self.exposedTurn &+ 1) % size
        let head = self.exposedTurn
        // Only a head offered once and read in full: a stale or doubled offer has no single walk
        // to compare with, and a touched one is reported once.
        guard let pending = self.offers[head], pending.count == 1, let offered = pending[0].chain, !self.touched.contains(head) else { return }
        let now = DescriptorChain(
            head: head, table: self.addresses.descriptorArea, queueSize: size, memory: memory,
            indirectNegotiated: self.features.contains(.indirectDescriptors))
        guard now.elements != offered.elements || now.tableIndices != offered.tableIndices else { return }
        guard let used = self.index(at: self.addresses.deviceArea &+ 2, memory: memory), Int(used &- self.nextUsed) <= Int(size),
            self.completedSince(memory: memory)[UInt32(head)] == nil
        else { return }
        self.touched.insert(head)
        let describe: (DescriptorChain) -> String = { chain in
            "[" + chain.elements.map { "[\($0.descriptor.address), \($0.descriptor.length), \($0.descriptor.flags.rawValue)]" }
                .joined(separator: ", ") + "]"
        }
        writer.write(
            "{\"kind\": \"touched\", \"t\": \(RingRecordWriter.now()), \(self.location), \"head\": \(head), "
                + "\"offered\": \(describe(offered)), \"now\": \(describe(now))}")
    }
}

extension WatchedQueue {
    /// SPLIT-CHAINS-DISJOINT over time: the descriptor table entries of a chain just made
    /// available that belong to a chain the device still owns — outstanding, and not returned
    /// by the used ring as read after this chain was (`completed`): a driver reuses a
    /// descriptor only after its chain is used, and that used element is visible by then.
    /// Not judged once used elements were lost (their chains would seem owned for ever).
    ///
    /// Spec: virtio v1.2 §2.7.13.2 (1.1: §2.6.13.2).
    func sharedDescriptors(of chain: DescriptorChain, completed: [UInt32: Int]) -> [ChainDefectFinding] {
        guard !self.usedLost else { return [] }
        for index in chain.tableIndices {
            guard let owner = self.owners[index], completed[UInt32(owner)] == nil,
                let pending = self.offers[owner], pending.count == 1, pending[0].chain != nil
            else { continue }
            let message =
                owner == chain.head && index == chain.head
                ? "head \(owner) is made available again while the device owns its chain"
                : "descriptor \(index) of the chain at head \(chain.head) is in the chain at head \(owner), which the device owns"
            return [.sharedWithOwned(message)]
        }
        return []
    }
}
