import GuestMemory
import VirtioModel

/// A MAC_TABLE_SET command's data is two tables, each a le32 count and that many 6-byte
/// addresses: unicast addresses first, multicast ones second, and nothing after them.
///
/// Spec: virtio v1.2 §5.1.6.5.2.2 "The driver MUST follow the VIRTIO_NET_CTRL_MAC_TABLE_SET
/// command by a le32 number, followed by that number of non-multicast MAC addresses, followed
/// by another le32 number, followed by that number of multicast addresses."
struct NetControlMacTable: SnapshotRule {
    static let info = RuleInfo(
        id: "NET-CTRL-MAC-TABLE", severity: .error, section: "5.1.6.5.2.2", section11: "5.1.6.5.2.2",
        summary: "MAC_TABLE_SET data is a le32 count of unicast addresses, those, then the same for multicast ones",
        party: .driver, evidence: "the data of an owned net control request")

    /// The most data read from one request: 64 KiB holds tables of over 10,000 addresses.
    static let readLimit = 65_536

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        NetControlInChain.all(in: queue).compactMap { request in
            guard request.command == .macTableSet else { return nil }
            return Self.problem(in: request).map { "chain at head \(request.chain.head): MAC_TABLE_SET \($0)" }
        }
    }

    /// What is wrong with the request's tables, nil when they are well formed or not readable.
    static func problem(in request: NetControlInChain) -> String? {
        let length = request.dataLength
        guard let data = request.data(count: Int(min(length, UInt64(Self.readLimit)))) else { return nil }
        let cursor = ByteCursor(data)
        // An offset is at most 4 + 6 × (2^32 − 1): it fits an Int.
        func count(at offset: UInt64) -> UInt64? { (try? cursor.peek(UInt32.self, at: Int(offset))).map(UInt64.init) }
        guard let unicast = count(at: 0) else { return "has \(length) data bytes, too few for the unicast table's count" }
        let multicastAt = 4 + 6 * unicast
        guard multicastAt + 4 <= length else {
            return "has \(length) data bytes, too few for \(unicast) unicast addresses and the multicast table's count"
        }
        guard let multicast = count(at: multicastAt) else { return nil }  // past what was read
        let expected = multicastAt + 4 + 6 * multicast
        guard expected == length else {
            return "has \(length) data bytes, not the \(expected) of \(unicast) unicast and \(multicast) multicast addresses"
        }
        // Bit 0 of an address's first byte marks a multicast (group) address. Only the
        // addresses read are looked at (no more than the bytes read hold).
        let readable = UInt64(data.count) / 6
        let misplaced =
            (0..<min(unicast, readable)).filter { Self.multicastBit(data, at: 4 + 6 * $0) == true }.map { "unicast entry \($0)" }
            + (0..<min(multicast, readable)).filter { Self.multicastBit(data, at: multicastAt + 4 + 6 * $0) == false }.map {
                "multicast entry \($0)"
            }
        guard !misplaced.isEmpty else { return nil }
        return "lists addresses in the wrong table: \(misplaced.prefix(4).joined(separator: ", "))"
            + (misplaced.count > 4 ? " and \(misplaced.count - 4) more" : "")
    }

    /// Whether the address at `offset` is a multicast one; nil when it was not read.
    static func multicastBit(_ data: [UInt8], at offset: UInt64) -> Bool? {
        offset < UInt64(data.count) ? data[Int(offset)] & 1 == 1 : nil
    }
}
