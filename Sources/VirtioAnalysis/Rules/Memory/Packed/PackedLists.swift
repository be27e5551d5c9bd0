import GuestMemory

/// The descriptor lists a packed queue's driver made available are well formed: each defect
/// a walk finds (``PackedQueueSnapshot/availableLists(from:memory:indirectNegotiated:budget:)``)
/// is a finding of the rule it breaks.
///
/// Spec: virtio v1.2 §2.8.1, §2.8.17, §2.8.19, §2.8.21.1.
enum PackedLists {
    static let availEncoding = RuleInfo(
        id: "PACKED-AVAIL-ENCODING", severity: .error, section: "2.8.1, 2.8.21.1", section11: "2.7.1, 2.7.21.1",
        summary: "every descriptor of an available list has AVAIL = the driver's wrap counter and USED its inverse",
        party: .driver, evidence: "a packed ring in a dump and the device's position (QMP)")
    static let listLength = RuleInfo(
        id: "PACKED-LIST-LEN", severity: .error, section: "2.8.17", section11: "2.7.17",
        summary: "a descriptor list, indirect entries included, is no longer than the queue size",
        party: .driver, evidence: "a packed ring in a dump and the device's position (QMP)")
    static let readWriteOrder = RuleInfo(
        id: "PACKED-LIST-RW-ORDER", severity: .error, section: "2.8.17", section11: "2.7.17",
        summary: "device-writable elements of a list follow all device-readable ones",
        party: .driver, evidence: "a packed ring in a dump and the device's position (QMP)")
    static let indirectFlags = RuleInfo(
        id: "PACKED-INDIRECT-FLAGS", severity: .error, section: "2.8.19", section11: "2.7.19",
        summary: "an INDIRECT descriptor has no NEXT, and an indirect table's entries carry no flag but WRITE",
        party: .driver, evidence: "a packed ring in a dump and the device's position (QMP)")
    static let indirectLength = RuleInfo(
        id: "PACKED-INDIRECT-LEN", severity: .error, section: "2.8.19", section11: "2.7.19",
        summary: "an indirect descriptor's length is a non-zero multiple of 16 (whole table entries)",
        party: .driver, evidence: "a packed ring in a dump and the device's position (QMP)")

    static let listPublish = RuleInfo(
        id: "PACKED-LIST-PUBLISH", severity: .error, section: "2.8.17", section11: "2.7.17",
        summary: "the driver makes a list's first descriptor available only after all the others",
        party: .driver, evidence: "a recording: a list's first descriptor seen available while a later one of it was not")

    static let infos = [availEncoding, listLength, readWriteOrder, indirectFlags, indirectLength, listPublish]

    /// The rule a defect of the list starting at ring slot `head` breaks, and what to say.
    static func finding(for defect: ChainDefect, head: UInt16) -> (RuleInfo, String) {
        let list = "list at slot \(head): "
        switch defect {
        case .notAvailable(let slot):
            return (Self.availEncoding, list + "continues at slot \(slot), which is not marked available in the list's lap")
        case .tooLong(let count, let limit):
            return (Self.listLength, list + "\(count) descriptors, more than \(limit)")
        case .readableAfterWritable(let position):
            return (Self.readWriteOrder, list + "element \(position) is device-readable after a device-writable one")
        case .indirectWithNext(let slot):
            return (Self.indirectFlags, list + "slot \(slot) has both INDIRECT and NEXT")
        case .nestedIndirect(let entry):
            return (Self.indirectFlags, list + "indirect table entry \(entry) is itself INDIRECT")
        case .indirectEntryFlags(let entry, let flags):
            return (
                Self.indirectFlags,
                list + "indirect table entry \(entry) has flags 0x\(String(flags, radix: 16)), only WRITE is allowed")
        case .indirectLength(let length):
            return (Self.indirectLength, list + "indirect table length \(length) is not a non-zero multiple of 16")
        case .headOutOfRange, .nextOutOfRange, .loop, .indirectNotNegotiated, .unmapped:
            // Shared with split chains: the same rules.
            return OwnedChains.finding(for: defect, head: head)
        }
    }
}
