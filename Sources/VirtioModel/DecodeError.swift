/// Why a structure could not be decoded from bytes.
///
/// Thrown by every `init(parsing:)` in this module. The offset is the position in the
/// input where decoding stopped, so a caller can point a user at it.
public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Fewer bytes remained than the structure needs.
        case truncated(needed: Int, available: Int)
        /// A field held a value the layout does not allow.
        case invalidValue(field: String, value: UInt64)
        /// Address arithmetic left the 64-bit space.
        case addressOverflow(address: UInt64, length: UInt64)
    }

    public var kind: Kind
    /// Byte offset in the decoded input.
    public var offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        switch self.kind {
        case .truncated(let needed, let available):
            return "truncated at offset \(self.offset): needed \(needed) bytes, \(available) available"
        case .invalidValue(let field, let value):
            return "invalid \(field) \(value) at offset \(self.offset)"
        case .addressOverflow(let address, let length):
            return "address 0x\(String(address, radix: 16)) + \(length) overflows at offset \(self.offset)"
        }
    }
}
