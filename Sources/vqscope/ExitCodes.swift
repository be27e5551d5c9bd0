import ArgumentParser

/// The exit codes users gate CI on (documented in docs/exit-codes.md). They follow BSD
/// `sysexits.h`: EX_USAGE 64, EX_DATAERR 65, EX_NOINPUT 66.
enum Exit {
    static let clean: Int32 = 0
    static let findings: Int32 = 1
    static let usage: Int32 = 64
    static let undecodable: Int32 = 65
    static let missingInput: Int32 = 66
}
