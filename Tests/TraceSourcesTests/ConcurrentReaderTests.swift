import Testing
import TraceSources
import VirtioTestSupport

struct ConcurrentReaderTests {
    @Test("the concurrent reader yields the sequential reader's items, in order, whatever the batch size", arguments: [1, 7, 4096])
    func sameItems(batchSize: Int) throws {
        let path = Fixtures.path("traces/real/linux-pci.log.xz")
        let sequential = try readAll(path)
        let reader = try ConcurrentTraceReader(path: path, batchSize: batchSize, depth: 2)
        var items: [TraceItem] = []
        var batches = 0
        while try reader.forEachItem(inNextBatch: { items.append($0) }) { batches += 1 }
        #expect(items == sequential.items)
        #expect(batches == (items.count + batchSize - 1) / batchSize)
        #expect(reader.statistics == sequential.statistics)
        #expect(try reader.forEachItem(inNextBatch: { _ in Issue.record("item after the end") }) == false)
    }

    @Test("an input error reaches the consumer")
    func error() throws {
        let file = TemporaryFile(bytes: [0x41, 0x00, 0x0A])
        defer { file.remove() }
        let reader = try ConcurrentTraceReader(path: file.path)
        #expect(throws: InputError.self) { _ = try reader.forEachItem(inNextBatch: { _ in }) }
        #expect(try reader.forEachItem(inNextBatch: { _ in }) == false)
    }

    @Test("an empty input ends at once")
    func empty() throws {
        let file = TemporaryFile(text: "")
        defer { file.remove() }
        var count = 0
        #expect(try ConcurrentTraceReader(path: file.path).forEachItem(inNextBatch: { _ in count += 1 }) == false)
        #expect(count == 0)
    }
}
