/// When the device names a port a console (CONSOLE_PORT), the driver answers with PORT_OPEN
/// of value 1 for that port. Raised at the driver's first PORT_OPEN of the port when its value
/// is 0, or at the CONSOLE_PORT when none came before the device's reset or the trace's end.
///
/// Spec: virtio v1.2 §5.3.6.2.2 "Upon receipt of a VIRTIO_CONSOLE_CONSOLE_PORT message, the
/// driver SHOULD treat the port in a manner suitable for text console access and MUST respond
/// with a VIRTIO_CONSOLE_PORT_OPEN message, which MUST have value set to 1."
enum ConsolePortOpen {
    static let info = RuleInfo(
        id: "CONS-CONSOLE-PORT-OPEN", severity: .error, section: "5.3.6.2.2",
        summary: "the driver answers CONSOLE_PORT with PORT_OPEN of value 1 for that port",
        party: .driver,
        evidence: "virtio_serial_send_control_event … event 4, then virtio_serial_handle_control_message event 6 and its port")

    static func unanswered(port: UInt32) -> String {
        "the device named port \(port) a console (VIRTIO_CONSOLE_CONSOLE_PORT) and the driver sent no VIRTIO_CONSOLE_PORT_OPEN "
            + "for it before the device's next reset or the trace's end"
    }

    static func closed(port: UInt32, consolePortLine: Int) -> String {
        "the driver answered VIRTIO_CONSOLE_CONSOLE_PORT for port \(port) (line \(consolePortLine)) with VIRTIO_CONSOLE_PORT_OPEN value 0, not 1"
    }
}
