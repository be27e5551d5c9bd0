import GuestMemory
import VirtioAnalysis
import VirtioModel

/// Writes an ``InspectionReport`` (queues read from a guest memory dump) as text or as JSON,
/// schema `vqscope.inspection` version 1 (`docs/inspect.md`).
public enum InspectionReporter {
    public static let schema = "vqscope.inspection"
    public static let schemaVersion = 1

    public static func text(_ report: InspectionReport, color: Bool) -> String {
        var out = "vqscope: \(report.dump)\n" + Self.memorySection(report)
        out += TextReporter.findingsSection(
            report.findings, total: report.totalFindings, omitted: report.omittedFindings, color: color)
        return out
    }

    /// The dump's regions and queues, without findings: also part of `analyze --dump`'s report.
    static func memorySection(_ report: InspectionReport) -> String {
        var out = ""
        let regions = report.regions.map {
            "0x\(String($0.guestAddress, radix: 16))+\(Format.grouped($0.length))"
        }
        out += "Guest memory: \(regions.count) region(s): \(regions.prefix(8).joined(separator: ", "))"
        out += (regions.count > 8 ? ", …" : "") + "\n"
        for queue in report.queues {
            let a = queue.addresses
            let name = queue.device.map { "\($0) queue \(queue.queue)" } ?? "Queue \(queue.queue)"
            if queue.isPacked {
                out += "\n\(name): packed, size \(a.size), descriptor ring \(Format.hex(a.descriptorArea)), "
                    + "driver event \(Format.hex(a.driverArea)), device event \(Format.hex(a.deviceArea))\n"
                guard let packed = queue.packed else {
                    out += "  nothing decoded (ring not in the dump, or no valid size)\n"
                    continue
                }
                out += "  \(packed.availableLooking) descriptor(s) with AVAIL ≠ USED, \(packed.usedLooking) with both set; "
                    + "event suppression: driver \(Self.describe(packed.driverEvent)), device \(Self.describe(packed.deviceEvent))\n"
                continue
            }
            out += "\n\(name): size \(a.size), descriptors \(Format.hex(a.descriptorArea)), "
                + "avail \(Format.hex(a.driverArea)), used \(Format.hex(a.deviceArea))\n"
            guard let availIndex = queue.availIndex, let usedIndex = queue.usedIndex else {
                out += "  rings not in the dump: nothing decoded\n"
                continue
            }
            out += "  avail.idx \(availIndex) (flags \(queue.availFlags ?? 0)), used.idx \(usedIndex) (flags \(queue.usedFlags ?? 0)), "
                + "\(queue.outstanding ?? 0) chain(s) owned by the device\n"
            guard !queue.chains.isEmpty else { continue }
            var table = TextTable([
                ("HEAD", .right), ("DESCRIPTORS", .right), ("READABLE", .right), ("WRITABLE", .right), ("INDIRECT", .left),
                ("DEFECTS", .right),
            ])
            for chain in queue.chains.prefix(64) {
                table.add([
                    "\(chain.head)", "\(chain.elements.count)", Format.grouped(chain.readableBytes),
                    Format.grouped(chain.writableBytes), chain.elements.contains { $0.indirect } ? "yes" : "no",
                    "\(chain.defects.count)",
                ])
            }
            out += table.render(indent: "  ") + "\n"
            if queue.chains.count > 64 { out += "  … \(queue.chains.count - 64) more chains\n" }
        }
        return out
    }

    public static func json(_ report: InspectionReport, toolVersion: String) -> String {
        var json = JSONWriter()
        JSONReporter.begin(schema: Self.schema, version: Self.schemaVersion, toolVersion: toolVersion, into: &json)
        Self.memory(report, into: &json)
        json.beginArray("findings")
        for finding in report.findings { JSONReporter.finding(finding, into: &json) }
        json.endArray()
        json.beginObject("summary")
        json.number("findings", report.totalFindings)
        json.number("omittedFindings", report.omittedFindings)
        json.string("highestSeverity", report.highestSeverity?.description)
        json.beginObject("byRule")
        for (rule, count) in report.findingCounts.sorted(by: { $0.key < $1.key }) { json.number(rule, count) }
        json.endObject()
        json.endObject()
        json.endObject()
        return json.output + "\n"
    }

    /// `enable`, `disable`, `desc at 12 (wrap 1)` or `reserved`.
    static func describe(_ event: EventSuppression) -> String {
        switch event.mode {
        case .enable: return "enable"
        case .disable: return "disable"
        case .descriptor: return "desc at \(event.offset) (wrap \(event.wrapCounter ? 1 : 0))"
        case .reserved: return "reserved (3)"
        }
    }

    /// The `dump` and `queues` members: also `analyze --dump`'s `memory` object.
    static func memory(_ report: InspectionReport, into json: inout JSONWriter) {
        json.beginObject("dump")
        json.string("file", report.dump)
        json.beginArray("regions")
        for region in report.regions {
            json.beginObject()
            json.string("guestAddress", Format.hex(region.guestAddress))
            json.number("length", region.length)
            json.number("fileOffset", region.fileOffset)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        json.beginArray("queues")
        for (ordinal, queue) in report.queues.enumerated() { Self.queue(queue, ordinal: ordinal, into: &json) }
        json.endArray()
    }

    private static func queue(_ queue: QueueInspection, ordinal: Int, into json: inout JSONWriter) {
        json.beginObject()
        json.number("ordinal", ordinal)
        json.string("device", queue.device)
        json.number("queue", queue.queue)
        json.string("layout", queue.isPacked ? "packed" : "split")
        json.string("descriptorTable", Format.hex(queue.addresses.descriptorArea))
        json.string("availRing", Format.hex(queue.addresses.driverArea))
        json.string("usedRing", Format.hex(queue.addresses.deviceArea))
        json.number("size", queue.addresses.size)
        json.number("availIdx", queue.availIndex)
        json.number("usedIdx", queue.usedIndex)
        json.number("availFlags", queue.availFlags)
        json.number("usedFlags", queue.usedFlags)
        json.number("outstanding", queue.outstanding)
        json.beginArray("chains")
        for chain in queue.chains {
            json.beginObject()
            json.number("head", chain.head)
            json.number("readableBytes", chain.readableBytes)
            json.number("writableBytes", chain.writableBytes)
            json.number("defects", chain.defects.count)
            json.beginArray("descriptors")
            for element in chain.elements {
                json.beginObject()
                json.number("index", element.index)
                json.string("address", Format.hex(element.descriptor.address))
                json.number("length", element.descriptor.length)
                json.number("flags", element.descriptor.flags.rawValue)
                json.bool("indirect", element.indirect)
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        if let packed = queue.packed {
            json.beginObject("packed")
            json.number("availableLooking", packed.availableLooking)
            json.number("usedLooking", packed.usedLooking)
            for (key, event) in [("driverEvent", packed.driverEvent), ("deviceEvent", packed.deviceEvent)] {
                json.beginObject(key)
                json.string("mode", Self.describe(event).split(separator: " ").first.map(String.init))
                json.number("offset", event.offset)
                json.bool("wrapCounter", event.wrapCounter)
                json.endObject()
            }
            json.endObject()
        } else {
            json.string("packed", nil)
        }
        json.endObject()
    }
}
