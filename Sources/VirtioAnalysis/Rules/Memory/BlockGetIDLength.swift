import GuestMemory
import VirtioModel

/// A VIRTIO_BLK_T_GET_ID request has room for exactly the 20-byte device ID string, all of it
/// device-writable: the device writes the string, NUL-padded, without a terminator at 20 bytes.
///
/// Spec: virtio v1.2 §5.2.6.1 "The length of data MUST be 20 bytes for VIRTIO_BLK_T_GET_ID
/// requests."
struct BlockGetIDLength: SnapshotRule {
    static let info = RuleInfo(
        id: "BLK-GET_ID-LEN", severity: .error, section: "5.2.6.1",
        summary: "a GET_ID request's data is exactly 20 device-writable bytes",
        party: .driver, evidence: "the request header and buffers of an owned block request")

    /// The length of the device ID string (VIRTIO_BLK_ID_BYTES).
    static let idBytes: UInt64 = 20

    static func check(_ queue: QueueSnapshotContext) -> [String] {
        guard queue.deviceType == .block else { return [] }
        return queue.wholeChains.compactMap { chain in
            guard let request = BlockRequestInChain(chain, memory: queue.memory), request.type == .getID else { return nil }
            let (readable, writable) = (request.readableData, request.writableData)
            guard readable != 0 || writable != Self.idBytes else { return nil }
            return "chain at head \(chain.head): GET_ID request with \(writable) device-writable data byte(s)"
                + (readable > 0 ? " and \(readable) device-readable byte(s) after its header" : "")
                + ": the device ID takes exactly \(Self.idBytes), written by the device"
        }
    }
}
