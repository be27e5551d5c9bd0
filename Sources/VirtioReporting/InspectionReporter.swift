import GuestMemory
import VirtioAnalysis
import VirtioModel

/// Writes an ``InspectionReport`` (queues read from a guest memory dump) as text or as JSON,
/// schema `vqscope.inspection` version 1 (`docs/inspect.md`).
public enum InspectionReporter {
    public static let schema = "vqscope.inspection"
    public static let schemaVersion = 1

    /// `descriptors`: list every descriptor of the owned chains under each queue.
    public static func text(_ report: InspectionReport, color: Bool, descriptors: Bool = false) -> String {
        var out = "vqscope: \(report.dump)\n" + Self.memorySection(report, descriptors: descriptors)
        out += TextReporter.findingsSection(
            report.findings, total: report.totalFindings, omitted: report.omittedFindings,
            suppressed: report.suppressedByBaseline, color: color)
        return out
    }

    /// The dump's regions and queues, without findings: also part of `analyze --dump`'s report.
    static func memorySection(_ report: InspectionReport, descriptors: Bool = false) -> String {
        var out = ""
        let regions = report.regions.map {
            "0x\(String($0.guestAddress, radix: 16))+\(Format.grouped($0.length))"
        }
        out += "Guest memory: \(regions.count) region(s): \(regions.prefix(8).joined(separator: ", "))"
        out += (regions.count > 8 ? ", …" : "") + "\n"
        if report.skippedQueues > 0 {
            out += "(\(report.skippedQueues) queue(s) past the first \(Format.grouped(Inspector.Limits.queues)) not inspected)\n"
        }
        for queue in report.queues {
            let a = queue.addresses
            let name = queue.device.map { "\($0) queue \(queue.queue)" } ?? "Queue \(queue.queue)"
            if queue.isPacked {
                out += "\n\(name): packed, size \(a.size), descriptor ring \(Format.hex(a.descriptorArea)), "
                    + "driver event \(Format.hex(a.driverArea)), device event \(Format.hex(a.deviceArea))"
                    + Self.capacity(queue) + "\n"
                guard let packed = queue.packed else {
                    out += "  nothing decoded (ring not in the dump, or no valid size)\n"
                    continue
                }
                out += "  \(packed.availableLooking) descriptor(s) with AVAIL ≠ USED, \(packed.usedLooking) with both set; "
                    + "event suppression: driver \(Self.describe(packed.driverEvent)), device \(Self.describe(packed.deviceEvent))\n"
                if let position = queue.lastAvailIndex {
                    out += "  device reads next at slot \(position): \(queue.chains.count) list(s) available and not yet read\n"
                } else {
                    out += "  device position unknown (QMP's last-avail-idx gives it): lists not walked\n"
                }
                out += Self.chainsSection(queue, descriptors: descriptors)
                continue
            }
            out += "\n\(name): size \(a.size), descriptors \(Format.hex(a.descriptorArea)), "
                + "avail \(Format.hex(a.driverArea)), used \(Format.hex(a.deviceArea))" + Self.capacity(queue) + "\n"
            guard let availIndex = queue.availIndex, let usedIndex = queue.usedIndex else {
                out += "  rings not in the dump: nothing decoded\n"
                continue
            }
            let events = [queue.usedEvent.map { "used_event \($0)" }, queue.availEvent.map { "avail_event \($0)" }]
                .compactMap { $0 }.map { $0 + ", " }.joined()
            out += "  avail.idx \(availIndex) (flags \(queue.availFlags ?? 0)), used.idx \(usedIndex) (flags \(queue.usedFlags ?? 0)), "
                + events + "\(queue.outstanding ?? 0) chain(s) owned by the device\n"
            if queue.completedInRing > 0 {
                out += "  \(queue.completedInRing) completed chain(s) in the used ring: \(queue.completed.count) still "
                    + "describe their requests and are checked, \(queue.undecidedCompletions) undecided (their head or "
                    + "buffers were reused since, which one snapshot cannot see past)\n"
            }
            out += Self.chainsSection(queue, descriptors: descriptors)
        }
        return out
    }


    /// `, capacity N sectors` for a block device whose capacity is known.
    static func capacity(_ queue: QueueInspection) -> String {
        queue.blockCapacity.map { ", capacity \(Format.grouped($0)) sectors" } ?? ""
    }

    /// The chains (packed: lists) in flight as a table, the first 64, and with `descriptors`
    /// every descriptor of them.
    static func chainsSection(_ queue: QueueInspection, descriptors: Bool) -> String {
        guard !queue.chains.isEmpty else { return "" }
        var out = ""
        let shown = Array(zip(queue.chains, queue.requests + Array(repeating: nil, count: queue.chains.count)).prefix(64))
        // The REQUEST column appears when the device type let vqscope read the requests.
        let withRequests = shown.contains { $0.1 != nil }
        var columns: [(String, TextTable.Alignment)] = [
            (queue.isPacked ? "SLOT" : "HEAD", .right), ("DESCRIPTORS", .right), ("READABLE", .right), ("WRITABLE", .right),
            ("INDIRECT", .left), ("DEFECTS", .right),
        ]
        if queue.isPacked { columns.insert(("ID", .right), at: 1) }
        if withRequests { columns.append(("REQUEST", .left)) }
        var table = TextTable(columns)
        for (chain, request) in shown {
            var row = [
                "\(chain.head)", "\(chain.elements.count)", Format.grouped(chain.readableBytes),
                Format.grouped(chain.writableBytes), chain.elements.contains { $0.indirect } ? "yes" : "no",
                "\(chain.defects.count)",
            ]
            if queue.isPacked { row.insert(chain.bufferID.map { "\($0)" } ?? "", at: 1) }
            if withRequests { row.append(request ?? "") }
            table.add(row)
        }
        out += table.render(indent: "  ") + "\n"
        if queue.chains.count > 64 { out += "  … \(queue.chains.count - 64) more \(queue.isPacked ? "lists" : "chains")\n" }
        if queue.unwalkedHeads > 0 {
            out += "  \(queue.unwalkedHeads) more owned chain(s) not walked: the walk budget "
                + "(\(Format.grouped(Inspector.Limits.descriptorsPerQueue)) descriptors a queue, "
                + "\(Format.grouped(Inspector.Limits.descriptorsTotal)) in all) ran out\n"
        }
        if descriptors { out += Self.descriptorTable(shown.map(\.0)) }
        return out
    }

    public static func json(_ report: InspectionReport, toolVersion: String) -> String {
        var json = JSONWriter()
        JSONReporter.begin(schema: Self.schema, version: Self.schemaVersion, toolVersion: toolVersion, into: &json)
        Self.memory(report, into: &json)
        JSONReporter.findings(
            report.findings, total: report.totalFindings, omitted: report.omittedFindings, counts: report.findingCounts,
            suppressed: report.suppressedByBaseline, into: &json)
        json.endObject()
        return json.output + "\n"
    }

    /// Every descriptor of the chains, one row each: where it sits (the queue's table or an
    /// indirect table), its address, length and flags.
    static func descriptorTable(_ chains: [DescriptorChain]) -> String {
        var table = TextTable([
            ("HEAD", .right), ("DESC", .right), ("TABLE", .left), ("ADDRESS", .left), ("LENGTH", .right), ("FLAGS", .left),
        ])
        for chain in chains {
            for (position, element) in chain.elements.enumerated() {
                let flags = [(DescriptorFlags.next, "NEXT"), (.write, "WRITE"), (.indirect, "INDIRECT")]
                    .filter { element.descriptor.flags.contains($0.0) }.map(\.1)
                table.add([
                    position == 0 ? "\(chain.head)" : "", "\(element.index)", element.indirect ? "indirect" : "queue",
                    Format.hex(element.descriptor.address), Format.grouped(element.descriptor.length),
                    flags.isEmpty ? "-" : flags.joined(separator: "|"),
                ])
            }
        }
        return table.render(indent: "    ") + "\n"
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
        json.number("skippedQueues", report.skippedQueues)
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
        json.number("unwalkedHeads", queue.unwalkedHeads)
        json.number("completedInRing", queue.completedInRing)
        json.number("completedChecked", queue.completed.count)
        json.number("completedUndecided", queue.undecidedCompletions)
        json.number("lastAvailIdx", queue.lastAvailIndex)
        json.number("blockCapacity", queue.blockCapacity)
        json.number("usedEvent", queue.usedEvent)
        json.number("availEvent", queue.availEvent)
        json.beginArray("chains")
        for (position, chain) in queue.chains.enumerated() {
            json.beginObject()
            json.number("head", chain.head)
            json.number("bufferId", chain.bufferID)
            json.string("request", position < queue.requests.count ? queue.requests[position] : nil)
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
