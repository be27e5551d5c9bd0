#if canImport(Glibc)
import Glibc
#endif

/// Where `record` puts the guest's RAM (QEMU's shared `memory-backend-file`): in `/dev/shm`, a
/// tmpfs, where it has room for all of it, else in the run directory. On a disk's file system
/// the guest's pages are the file system's: the first write to each is prepared for the disk,
/// dirty ones are written back to it, and a full disk stops the guest (SIGBUS); on tmpfs the
/// file is memory only (docs/record.md has the overhead each costs). The file leaves its directory once the recorder has mapped it
/// (``Session/pollDevices(_:)``).
enum RAMFile {
    /// `/dev/shm`'s files are named after the recorder's process ID.
    static let prefix = "vqscope-ram-"

    /// The RAM file's path for a guest of `memory` bytes recorded into `directory`.
    static func path(directory: String, memory: UInt64, shared: String = "/dev/shm", process: pid_t = getpid()) -> String {
        var space = statvfs()
        guard access(shared, W_OK) == 0, statvfs(shared, &space) == 0 else { return directory + "/guest-ram" }
        let (free, overflow) = UInt64(space.f_bavail).multipliedReportingOverflow(by: UInt64(space.f_frsize))
        return overflow || free >= memory ? shared + "/" + Self.prefix + "\(process)" : directory + "/guest-ram"
    }

    /// Removes from `shared` the RAM files of recorders no longer running: one killed after
    /// starting QEMU and before mapping the file leaves it there, as large as its guest's memory.
    static func removeAbandoned(in shared: String = "/dev/shm") {
        guard let listing = opendir(shared) else { return }
        defer { closedir(listing) }
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix(Self.prefix), let process = pid_t(name.dropFirst(Self.prefix.count)), process > 0,
                kill(process, 0) != 0, errno == ESRCH
            else { continue }
            unlink(shared + "/" + name)
        }
    }
}
