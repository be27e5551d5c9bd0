import TraceSources
import VirtioModel

/// A multiport console's control messages (``ConsoleControl``): what CONS-DEVICE-READY and
/// CONS-CONSOLE-PORT-OPEN judge.
extension Analyzer {
    /// The driver's control message `event` (`value`), just taken from a control queue of `device`.
    mutating func consoleMessage(event: UInt16, value: UInt16, device: Int) {
        self.consoleControlDevice = device
        if event == ConsoleControl.Event.deviceReady.rawValue {
            self.devices[device].consoleControl.deviceReadySent = true
            self.devices[device].consoleControl.pendingMessage = nil
        } else {
            self.devices[device].consoleControl.pendingMessage = (event, value)
        }
    }

    /// The port of the driver's control message traced just before.
    mutating func consoleMessagePort(_ port: UInt32, record: TraceRecord) {
        guard let device = self.consoleControlDevice, let (event, value) = self.devices[device].consoleControl.pendingMessage else { return }
        self.devices[device].consoleControl.pendingMessage = nil
        guard event == ConsoleControl.Event.portOpen.rawValue,
            let named = self.devices[device].consoleControl.portOpenDue.removeValue(forKey: port)
        else { return }
        if value != 1 {
            self.emit(ConsolePortOpen.info, ConsolePortOpen.closed(port: port, consolePortLine: named.line), record: record, device: device)
        }
    }

    /// The device's control message `event` (`value`) for `port`: a CONSOLE_PORT answers the
    /// PORT_READY of the device whose message QEMU handled last.
    mutating func consoleDeviceMessage(port: UInt32, event: UInt16, value: UInt16, record: TraceRecord) {
        guard event == ConsoleControl.Event.consolePort.rawValue, value == 1, let device = self.consoleControlDevice else { return }
        let due = self.devices[device].consoleControl.portOpenDue
        guard due[port] == nil, due.count < ConsoleControl.maximumKept else { return }
        self.devices[device].consoleControl.portOpenDue[port] = TracePlace(record)
    }

    /// The device was reset, or the trace ended: the ports it named consoles and the driver
    /// never opened.
    mutating func closeConsoleControl(of device: Int) {
        let due = self.devices[device].consoleControl.reset(features: self.devices[device].negotiatedFeatures)
        for (port, place) in due.sorted(by: { $0.value.line < $1.value.line }) {
            self.emit(ConsolePortOpen.info, ConsolePortOpen.unanswered(port: port), line: place.line, time: place.timestamp, device: device)
        }
    }
}
