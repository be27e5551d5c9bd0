import GuestMemory
import VirtioModel

/// A chain the device has completed, as the used ring and the descriptor table still show it.
public struct CompletedChain: Sendable {
    /// The used ring index the element was written at (its slot is this modulo the size).
    public var usedIndex: UInt16
    public var element: UsedElement
    /// The chain at the element's head, walked now.
    public var chain: DescriptorChain
}

/// The completed chains of a split queue whose descriptors and buffers still describe the
/// request the device completed, as far as one snapshot can tell.
///
/// After a completion the driver frees the chain's descriptors and reuses them, and its
/// buffers, for later requests; nothing in memory says which request a descriptor was last
/// written for. But a descriptor or buffer serves one request at a time, and requests are
/// completed in the used ring's order: so, going from the newest used element back, a
/// chain none of whose descriptors and buffers a newer chain (completed, or owned by the
/// device) has taken still describes its own request. The others are counted as undecided,
/// not judged, and so is every chain that goes through an indirect table: the driver frees
/// the table on completion (§2.7.5.3: it is the driver's memory again), and Linux's next
/// allocations reuse it. One case is beyond reach: a driver that has rewritten a descriptor
/// for a request it has not made available yet.
enum CompletedChains {
    /// What newer chains have taken: table entries, and guest-physical ranges kept as a sorted
    /// union of disjoint intervals, so a check is a binary search.
    struct Claims {
        private var ranges: [(start: UInt64, end: UInt64)] = []
        private var descriptors: [Bool]

        init(queueSize: Int) { self.descriptors = Array(repeating: false, count: queueSize) }

        /// Whether any of the chain's table entries or buffers is already taken.
        func overlaps(_ chain: DescriptorChain) -> Bool {
            chain.tableIndices.contains { Int($0) < self.descriptors.count && self.descriptors[Int($0)] }
                || chain.elements.contains { self.overlaps(Self.range(of: $0)) }
        }

        /// Takes the chain's table entries and buffers.
        mutating func claim(_ chain: DescriptorChain) {
            for index in chain.tableIndices where Int(index) < self.descriptors.count { self.descriptors[Int(index)] = true }
            for element in chain.elements {
                var range = Self.range(of: element)
                guard range.end > range.start else { continue }
                // Merge with every interval it touches.
                let first = self.firstIndex(endingAtOrAfter: range.start)
                var last = first
                while last < self.ranges.count, self.ranges[last].start <= range.end {
                    range = (min(range.start, self.ranges[last].start), max(range.end, self.ranges[last].end))
                    last += 1
                }
                self.ranges.replaceSubrange(first..<last, with: [range])
            }
        }

        private static func range(of element: DescriptorChain.Element) -> (start: UInt64, end: UInt64) {
            let start = element.descriptor.address
            let (end, overflow) = start.addingReportingOverflow(UInt64(element.descriptor.length))
            return (start, overflow ? .max : end)
        }

        private func overlaps(_ range: (start: UInt64, end: UInt64)) -> Bool {
            guard range.end > range.start else { return false }
            let index = self.firstIndex(endingAtOrAfter: range.start + 1)
            return index < self.ranges.count && self.ranges[index].start < range.end
        }

        /// The first interval whose end is at or after `address` (intervals are disjoint and
        /// sorted, so their ends are sorted too).
        private func firstIndex(endingAtOrAfter address: UInt64) -> Int {
            var low = 0
            var high = self.ranges.count
            while low < high {
                let middle = (low + high) / 2
                if self.ranges[middle].end < address { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// The completed chains of `snapshot` that still describe their requests, oldest first,
    /// and how many written used elements were left undecided. `owned` are the chains the
    /// device owns; `budget` bounds the descriptors walked.
    /// `traced`: what the trace of the same moment shows QEMU took, by used index (the trace's
    /// last fills); a chain whose walk has other counts of readable and writable buffers is
    /// not the one completed — the driver is rewriting it for a request it has not made
    /// available yet — and is undecided.
    static func find(
        _ snapshot: SplitQueueSnapshot, written: Int, owned: [DescriptorChain], memory: GuestMemoryMap,
        indirectNegotiated: Bool?, traced: [UInt16: ChainShape] = [:], budget: inout Int
    ) -> (chains: [CompletedChain], undecided: Int) {
        let size = snapshot.addresses.size
        var claims = Claims(queueSize: Int(size))
        for chain in owned { claims.claim(chain) }
        var headSeen = [Bool](repeating: false, count: Int(size))
        var kept: [CompletedChain] = []
        var undecided = 0
        for back in 0..<written {
            let index = snapshot.usedIndex.advanced(by: UInt16(truncatingIfNeeded: -(back + 1)))
            let element = snapshot.used[index.slot(queueSize: size)]
            // A head out of range is SPLIT-USED-ID-OWNED's; an older use of a head is undecided.
            guard element.id < UInt32(size) else { continue }
            guard !headSeen[Int(element.id)], budget > 0 else {
                undecided += 1
                continue
            }
            headSeen[Int(element.id)] = true
            let chain = DescriptorChain(
                head: UInt16(element.id), table: snapshot.addresses.descriptorArea, queueSize: size, memory: memory,
                indirectNegotiated: indirectNegotiated)
            budget -= chain.elements.count + 1
            // An indirect table is memory the driver frees on completion (Linux does): what it
            // holds now may be any later allocation's, zeroed ones included.
            guard chain.defects.isEmpty, !chain.elements.contains(where: \.indirect), !claims.overlaps(chain),
                traced[index.rawValue].map({ $0 == ChainShape(chain) }) ?? true
            else {
                undecided += 1
                continue
            }
            claims.claim(chain)
            kept.append(CompletedChain(usedIndex: index.rawValue, element: element, chain: chain))
        }
        return (kept.reversed(), undecided)
    }
}

extension ChainShape {
    /// A walked chain's data descriptors.
    init(_ chain: DescriptorChain) {
        let writable = chain.elements.count { $0.descriptor.flags.contains(.write) }
        self.init(readable: UInt32(chain.elements.count - writable), writable: UInt32(writable))
    }
}
