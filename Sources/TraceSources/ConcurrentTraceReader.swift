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
/// Items are not copied: the consumer reads them in place, and the producer deinitializes
/// those that hold references (a few strings) when it reuses their buffer; the rest are plain
/// values, simply overwritten.
public final class ConcurrentTraceReader: @unchecked Sendable {
    /// Decoded items in a buffer of `batchSize` slots, the first `count` initialized; those
    /// at `holders` hold references and must be deinitialized, the others are plain values.
    private struct Batch {
        var slots: UnsafeMutableBufferPointer<TraceItem>
        var count: Int
        var holders: [Int]

        /// Ends the items' lifetimes, keeping the buffer.
        mutating func clear() {
            for index in self.holders { (self.slots.baseAddress! + index).deinitialize(count: 1) }
            self.holders.removeAll(keepingCapacity: true)
            self.count = 0
        }
    }

    private enum Delivery {
        case items(Batch, last: Bool)
        case failure(InputError)
    }

    /// The reader as the producer thread left it; handed over before the last delivery.
    private var reader: TraceReader
    private let batchSize: Int
    private let free: DispatchSemaphore
    private let ready = DispatchSemaphore(value: 0)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var deliveries: [Delivery] = []
    /// Batches the consumer is done with, their items still initialized: the producer
    /// deinitializes them and fills the buffer again (fresh buffers would be fresh pages,
    /// faulted in for every batch). At most `depth` + 1 buffers exist.
    private var spare: [Batch] = []
    private var finished = false
    private var started = false

    public init(path: String, batchSize: Int = 4096, depth: Int = 4, declarations: TraceEventsFile? = nil) throws(InputError) {
        self.reader = try TraceReader(path: path, declarations: declarations)
        self.batchSize = max(1, batchSize)
        self.free = DispatchSemaphore(value: max(1, depth))
        pthread_mutex_init(self.mutex, nil)
    }

    deinit {
        // Batches the consumer never took (it stopped early) still own their items.
        for case .items(let batch, _) in self.deliveries { Self.release(batch) }
        for batch in self.spare { Self.release(batch) }
        pthread_mutex_destroy(self.mutex)
        self.mutex.deallocate()
    }

    /// What the reader counted; complete once ``forEachItem(inNextBatch:)`` has returned false.
    public var statistics: InputStatistics { self.reader.statistics }

    /// Hands the items of the next batch to `body`, in order; returns false at the end of the input.
    /// `body` may not keep the `inout` access (the item stays in the reader's buffer); it is
    /// `inout` only so that the item is handed over in place, without a copy.
    public func forEachItem(inNextBatch body: (inout TraceItem) -> Void) throws(InputError) -> Bool {
        try self.withNextBatch { items in
            for index in items.indices { body(&items[index]) }
        }
    }

    /// Hands the next batch to `body` as a buffer of items, to be read in place (not kept, and
    /// no item replaced or moved out: the reader deinitializes them); returns false at the end
    /// of the input. One call per batch rather than per item.
    public func withNextBatch(_ body: (UnsafeMutableBufferPointer<TraceItem>) -> Void) throws(InputError) -> Bool {
        if self.finished { return false }
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
        case .items(let batch, let last):
            body(UnsafeMutableBufferPointer(rebasing: batch.slots[0..<batch.count]))
            pthread_mutex_lock(self.mutex)
            self.spare.append(batch)
            pthread_mutex_unlock(self.mutex)
            if last { self.finished = true }
            return !last || batch.count > 0
        }
    }

    private static func release(_ batch: Batch) {
        var batch = batch
        batch.clear()
        batch.slots.deallocate()
    }

    private func produce() {
        // The producer works on its own copy, free of the class's dynamic exclusivity checks.
        var reader = self.reader
        while true {
            self.free.wait()
            pthread_mutex_lock(self.mutex)
            let used = self.spare.popLast()
            pthread_mutex_unlock(self.mutex)
            var batch = used ?? Batch(slots: .allocate(capacity: self.batchSize), count: 0, holders: [])
            batch.clear()
            let delivery: Delivery
            do {
                batch.count = try reader.fill(batch.slots.baseAddress!, capacity: self.batchSize, holders: &batch.holders)
                delivery = .items(batch, last: batch.count < self.batchSize)
            } catch {
                Self.release(batch)
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
