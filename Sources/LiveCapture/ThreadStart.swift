#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread for the recorder's own loops (the ``Sampler``, the ``StallGuard``): plain
/// pthreads, so that each keeps to the processor its creator chose and never waits for a
/// Swift executor.
enum ThreadStart {
    /// Starts `body` on a new joinable thread, which holds `body` (and what it captures) until
    /// it returns. `name` says which thread could not be started.
    static func start(_ name: String, _ body: @escaping () -> Void) throws(RecordError) -> pthread_t {
        final class Box {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw .cannotStart("\(name): \(String(cString: strerror(started)))")
        }
        return thread
    }
}
