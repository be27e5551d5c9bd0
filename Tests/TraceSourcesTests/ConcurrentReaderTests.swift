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
        while let batch = try reader.nextBatch() {
            #expect(!batch.isEmpty && batch.count <= batchSize)
            items += batch
        }
        #expect(items == sequential.items)
        #expect(reader.statistics == sequential.statistics)
        #expect(try reader.nextBatch() == nil)
    }

    @Test("an input error reaches the consumer")
    func error() throws {
        let file = TemporaryFile(bytes: [0x41, 0x00, 0x0A])
        defer { file.remove() }
        let reader = try ConcurrentTraceReader(path: file.path)
        #expect(throws: InputError.self) { _ = try reader.nextBatch() }
        #expect(try reader.nextBatch() == nil)
    }

    @Test("an empty input ends at once")
    func empty() throws {
        let file = TemporaryFile(text: "")
        defer { file.remove() }
        #expect(try ConcurrentTraceReader(path: file.path).nextBatch() == nil)
    }
}
