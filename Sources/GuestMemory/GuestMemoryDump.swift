import VirtioModel

/// Opens a guest memory dump: a QEMU `dump-guest-memory` ELF core (PT_LOAD `p_paddr` is
/// the guest-physical address), or a raw `pmemsave` image at a base address.
public enum GuestMemoryDump {
    /// Opens `path`. A raw image needs `base` (its first byte's guest-physical address); an
    /// ELF core ignores it.
    public static func open(path: String, base: UInt64? = nil) throws(MemoryError) -> GuestMemoryMap {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func starts(with signature: String) -> Bool {
            let expected = Array(signature.utf8)
            return bytes.count >= expected.count && zip(bytes, expected).allSatisfy { $0 == $1 }
        }
        if starts(with: "\u{7F}ELF") { return try ELFCore.map(file) }
        if starts(with: "makedumpfile") {
            throw .unsupportedFormat(
                path: path,
                reason: "this is a flattened kdump (dump-guest-memory with -z, -l or -s); vqscope reads ELF dumps: "
                    + "run dump-guest-memory without a format option (ELF is its default)")
        }
        if starts(with: "KDUMP   ") {
            throw .unsupportedFormat(
                path: path,
                reason: "this is a kdump-compressed dump; vqscope reads ELF dumps: run dump-guest-memory without "
                    + "a format option, or pmemsave for a raw image")
        }
        guard let base else {
            throw .unsupportedFormat(
                path: path,
                reason: "not an ELF core dump; if it is a raw pmemsave image, give its guest-physical base address (--base)")
        }
        return try GuestMemoryMap(
            file: file, regions: [.init(guestAddress: base, length: UInt64(bytes.count), fileOffset: 0)])
    }
}

/// The program headers of an ELF core, as QEMU's `dump-guest-memory` writes them.
///
/// ELF64 and ELF32, little-endian; PN_XNUM extended numbering for dumps with 65535 or more
/// segments. Every offset is checked against the file before it is used.
enum ELFCore {
    static let loadSegment: UInt32 = 1  // PT_LOAD
    /// Program headers read at most: the table is copied, so its size is bounded.
    static let maximumProgramHeaders = 65_536
    static let extendedNumbering = 0xFFFF  // PN_XNUM

    static func map(_ file: MappedFile) throws(MemoryError) -> GuestMemoryMap {
        let bytes = file.bytes
        func malformed(_ offset: UInt64, _ reason: String) -> MemoryError {
            .malformed(path: file.path, offset: offset, reason: reason)
        }
        func cursor(_ offset: UInt64, _ length: UInt64) throws(MemoryError) -> ByteCursor {
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow, end <= UInt64(bytes.count) else {
                throw malformed(offset, "a \(length)-byte ELF structure runs past the end of the file")
            }
            return ByteCursor(Array(bytes[Int(offset)..<Int(end)]))
        }
        let ident = try cursor(0, 16)
        let elfClass = (try? ident.peek(UInt8.self, at: 4)) ?? 0
        let encoding = (try? ident.peek(UInt8.self, at: 5)) ?? 0
        guard encoding == 1 else {
            throw .unsupportedFormat(path: file.path, reason: "a big-endian ELF dump (only little-endian guests are supported)")
        }
        let wide: Bool
        switch elfClass {
        case 2: wide = true
        case 1: wide = false
        default: throw malformed(4, "ELF class \(elfClass) is neither 32- nor 64-bit")
        }
        let header = try cursor(0, wide ? 64 : 52)
        func field<T: FixedWidthInteger>(_: T.Type, _ at: Int) throws(MemoryError) -> UInt64 {
            do { return UInt64(try header.peek(T.self, at: at)) } catch { throw malformed(UInt64(at), "truncated ELF header") }
        }
        let programHeaders = wide ? try field(UInt64.self, 0x20) : try field(UInt32.self, 0x1C)
        let entrySize = try field(UInt16.self, wide ? 0x36 : 0x2A)
        var count = try field(UInt16.self, wide ? 0x38 : 0x2C)
        guard entrySize >= (wide ? 56 : 32) else { throw malformed(wide ? 0x36 : 0x2A, "program header size \(entrySize)") }
        if count == UInt64(Self.extendedNumbering) {
            // The real count is in section header 0's sh_info.
            let sections = wide ? try field(UInt64.self, 0x28) : try field(UInt32.self, 0x20)
            let section = try cursor(sections, wide ? 64 : 40)
            do { count = UInt64(try section.peek(UInt32.self, at: wide ? 44 : 28)) } catch {
                throw malformed(sections, "truncated section header 0")
            }
        }
        // QEMU writes one PT_LOAD per RAM block and a PT_NOTE per vCPU; far fewer than this.
        guard count <= UInt64(Self.maximumProgramHeaders) else {
            throw malformed(programHeaders, "\(count) program headers, more than \(Self.maximumProgramHeaders)")
        }
        let (tableLength, overflow) = count.multipliedReportingOverflow(by: entrySize)
        guard !overflow else { throw malformed(programHeaders, "\(count) program headers overflow") }
        let table = try cursor(programHeaders, tableLength)
        var regions: [GuestMemoryMap.Region] = []
        for index in 0..<Int(count) {
            let at = index * Int(entrySize)
            let region: GuestMemoryMap.Region
            do {
                guard try table.peek(UInt32.self, at: at) == Self.loadSegment else { continue }
                let offset = wide ? try table.peek(UInt64.self, at: at + 8) : UInt64(try table.peek(UInt32.self, at: at + 4))
                let physical =
                    wide ? try table.peek(UInt64.self, at: at + 24) : UInt64(try table.peek(UInt32.self, at: at + 12))
                let size = wide ? try table.peek(UInt64.self, at: at + 32) : UInt64(try table.peek(UInt32.self, at: at + 16))
                region = GuestMemoryMap.Region(guestAddress: physical, length: size, fileOffset: offset)
            } catch {
                throw malformed(programHeaders + UInt64(at), "truncated program header \(index)")
            }
            guard !region.guestAddress.addingReportingOverflow(region.length).overflow else {
                throw malformed(
                    programHeaders + UInt64(at),
                    "PT_LOAD \(index) at guest-physical 0x\(String(region.guestAddress, radix: 16)) + \(region.length) passes 2^64")
            }
            if region.length > 0 { regions.append(region) }
        }
        let sorted = regions.sorted { $0.guestAddress < $1.guestAddress }
        for (lower, upper) in zip(sorted, sorted.dropFirst()) {
            // Each segment's end was checked against 2^64 above.
            if lower.guestAddress + lower.length > upper.guestAddress {
                throw malformed(
                    programHeaders, "PT_LOAD segments overlap at guest-physical 0x\(String(upper.guestAddress, radix: 16))")
            }
        }
        return try GuestMemoryMap(file: file, regions: sorted)
    }
}
