/// The device ends every block request with one of the defined status values: OK, IOERR,
/// UNSUPP, and for a zoned device (VIRTIO_BLK_F_ZONED, virtio 1.3) the four zone errors 3–6.
///
/// Spec: virtio v1.2 §5.2.6 (1.1: §5.2.6), "The final status byte is written by the device:
/// either VIRTIO_BLK_S_OK for success, VIRTIO_BLK_S_IOERR for device or driver error or
/// VIRTIO_BLK_S_UNSUPP for a request unsupported by device."
enum BlockStatusValue {
    static let info = RuleInfo(
        id: "BLK-STATUS-VALUE", severity: .error, section: "5.2.6",
        summary: "the device completes a block request with status OK (0), IOERR (1) or UNSUPP (2)",
        party: .device, evidence: "virtio_blk_req_complete with another status")

    /// `zoned`: whether VIRTIO_BLK_F_ZONED was negotiated, nil when the features are not known
    /// (the zone statuses are then accepted).
    static func check(status: Int32, zoned: Bool?) -> String? {
        if (0...2).contains(status) || (zoned != false && (3...6).contains(status)) { return nil }
        let zones = zoned == false ? " (the zone statuses 3–6 need VIRTIO_BLK_F_ZONED)" : ""
        return "a block request completed with status \(status) (OK is 0, IOERR 1, UNSUPP 2)\(zones)"
    }
}
