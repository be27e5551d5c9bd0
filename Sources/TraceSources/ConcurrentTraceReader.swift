import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and decodes a trace on a second thread and hands the items out in batches, so that
/// decoding overlaps with the analysis on a machine with two or more cores.
///
/// It yields exactly the items ``TraceReader/next()`` yields, in the same order. Memory stays
/// bounded: at most `depth` batches of `batchSize` items are decoded ahead of the consumer.
public final class ConcurrentTraceReader: @unchecked Sendable {
    private enum Delivery {
        case items([TraceItem], last: Bool)
        case failure(InputError)
    }

    /// The reader as the producer thread left it; handed over before the last delivery.
    private var reader: TraceReader
    private let batchSize: Int
    private let free: DispatchSemaphore
    private let ready = DispatchSemaphore(value: 0)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var deliveries: [Delivery] = []
    private var finished = false
    private var started = false

    public init(path: String, batchSize: Int = 4096, depth: Int = 4) throws(InputError) {
        self.reader = try TraceReader(path: path)
        self.batchSize = max(1, batchSize)
        self.free = DispatchSemaphore(value: max(1, depth))
        pthread_mutex_init(self.mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deallocate()
    }

    /// What the reader counted; complete once ``nextBatch()`` has returned nil.
    public var statistics: InputStatistics { self.reader.statistics }

    /// The next batch of items, or nil at the end of the input.
    public func nextBatch() throws(InputError) -> [TraceItem]? {
        if self.finished { return nil }
        if !self.started {
            self.started = true
            DispatchQueue.global().async { self.produce() }
        }
        self.ready.wait()
        pthread_mutex_lock(self.mutex)
        let delivery = self.deliveries.removeFirst()
        pthread_mutex_unlock(self.mutex)
        self.free.signal()
        switch delivery {
        case .failure(let error):
            self.finished = true
            throw error
        case .items(let items, let last):
            if last { self.finished = true }
            return items.isEmpty && last ? nil : items
        }
    }

    private func produce() {
        // The producer works on its own copy, free of the class's dynamic exclusivity checks.
        var reader = self.reader
        while true {
            self.free.wait()
            var items: [TraceItem] = []
            items.reserveCapacity(self.batchSize)
            let delivery: Delivery
            do {
                var last = false
                while items.count < self.batchSize {
                    guard let item = try reader.next() else {
                        last = true
                        break
                    }
                    items.append(item)
                }
                delivery = .items(items, last: last)
            } catch {
                delivery = .failure(error)
            }
            let more: Bool
            if case .items(_, false) = delivery { more = true } else { more = false }
            if !more { self.reader = reader }  // before the consumer can see the last delivery
            pthread_mutex_lock(self.mutex)
            self.deliveries.append(delivery)
            pthread_mutex_unlock(self.mutex)
            self.ready.signal()
            if !more { return }
        }
    }
}
