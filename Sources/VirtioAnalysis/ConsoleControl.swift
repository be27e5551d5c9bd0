import TraceSources
import VirtioModel

/// What the driver of a multiport console still owes the device on its control queues
/// (§5.3.6.2), since the device's last reset, as QEMU traces the messages: the device's
/// (`virtio_serial_send_control_event port, event, value`) and the driver's
/// (`virtio_serial_handle_control_message event, value`, with the port in the
/// `virtio_serial_handle_control_message_port` after it, except for DEVICE_READY).
///
/// The messages do not name their device: the driver's is the device of the control queue
/// element QEMU took just before (`virtqueue_pop`); the device's CONSOLE_PORT answers the
/// driver's PORT_READY, so it is the device whose message QEMU was handling.
struct ConsoleControl: Sendable {
    /// The control message events of §5.3.6.2 used here.
    enum Event: UInt16 {
        case deviceReady = 0
        case consolePort = 4
        case portOpen = 6
    }

    /// The driver set DRIVER_OK in this initialization (where), and whether it has sent
    /// DEVICE_READY since.
    var driverOK: TracePlace?
    var deviceReadySent = false
    /// Earlier initializations that reached DRIVER_OK with no DEVICE_READY: where, and the
    /// features the driver had accepted (whether MULTIPORT was among them is judged when the
    /// trace ends, once the device's type is known). At most ``maximumKept``.
    var unreadyInitializations: [(place: TracePlace, features: FeatureBits?)] = []
    /// Ports the device named a console (CONSOLE_PORT) and the driver has not opened
    /// (PORT_OPEN), by port id: where each was named. At most ``maximumKept``.
    var portOpenDue: [UInt32: TracePlace] = [:]
    /// The driver's message whose port QEMU traces next.
    var pendingMessage: (event: UInt16, value: UInt16)?

    static let maximumKept = 64

    /// The device was reset (a status write of 0) after accepting `features`: this
    /// initialization is kept if it owes DEVICE_READY, and the ports it owes a PORT_OPEN are
    /// returned.
    mutating func reset(features: FeatureBits?) -> [UInt32: TracePlace] {
        if let place = self.driverOK, !self.deviceReadySent, self.unreadyInitializations.count < Self.maximumKept {
            self.unreadyInitializations.append((place, features))
        }
        let due = self.portOpenDue
        self.driverOK = nil
        self.deviceReadySent = false
        self.portOpenDue = [:]
        self.pendingMessage = nil
        return due
    }
}
