import VirtioAnalysis
import VirtioModel

/// The `--vnet-hdr` side file of `vqscope pcap`: JSON Lines, schema `vqscope.vnet-hdr`
/// version 1 (`docs/pcap.md`). A first line says where the frames came from and how they
/// were timed, then one line per pcap frame with its queue, direction and virtio_net_hdr.
public enum FrameReporter {
    public static let schema = "vqscope.vnet-hdr"
    public static let schemaVersion = 1

    /// Where a frame's pcap timestamp came from.
    public enum TimeSource: String, Sendable {
        /// The trace's `virtqueue_fill` of the element.
        case trace
        /// The dump file's modification time: when the snapshot was taken.
        case dump
        /// When `vqscope record` saw the ring change (a transmit chain made available, a
        /// received packet's last buffer used).
        case ring
    }

    /// The first line for the frames of a recorded run.
    public static func header(run: String, toolVersion: String) -> String {
        var json = JSONWriter(compact: true)
        json.beginObject()
        json.string("schema", Self.schema)
        json.number("version", Self.schemaVersion)
        json.string("tool", "vqscope \(toolVersion)")
        json.string("run", run)
        json.string(
            "timestamps",
            "when vqscope record saw the ring change: a transmit chain made available, a received packet's last buffer "
                + "used (timestamp: ring), on the trace's clock")
        json.endObject()
        return json.output + "\n"
    }

    /// The first line.
    public static func header(dump: String, trace: String?, dumpTime: String, toolVersion: String) -> String {
        var json = JSONWriter(compact: true)
        json.beginObject()
        json.string("schema", Self.schema)
        json.number("version", Self.schemaVersion)
        json.string("tool", "vqscope \(toolVersion)")
        json.string("dump", dump)
        json.string("trace", trace)
        json.string(
            "timestamps",
            "a received frame: the trace's virtqueue_fill of its element, where the trace has it (timestamp: trace); "
                + "otherwise the dump's modification time \(dumpTime), when the snapshot was taken (timestamp: dump)")
        json.endObject()
        return json.output + "\n"
    }

    /// The line of pcap frame `number` (from 1).
    public static func line(_ frame: NetFrame, number: Int, time: TimeSource) -> String {
        var json = JSONWriter(compact: true)
        json.beginObject()
        json.number("frame", number)
        json.string("device", frame.device)
        json.number("queue", frame.queue)
        json.string("direction", frame.direction.rawValue)
        json.string("origin", frame.origin.rawValue)
        json.number("head", frame.head)
        json.number("usedIndex", frame.usedIndex)
        json.string("timestamp", time.rawValue)
        json.number("length", frame.bytes.count)
        json.beginObject("vnetHdr")
        json.number("flags", frame.header.flags)
        json.number("gsoType", frame.header.gsoType)
        json.number("hdrLen", frame.header.headerLength)
        json.number("gsoSize", frame.header.gsoSize)
        json.number("csumStart", frame.header.checksumStart)
        json.number("csumOffset", frame.header.checksumOffset)
        json.number("numBuffers", frame.bufferCount)
        json.endObject()
        json.endObject()
        return json.output + "\n"
    }
}
