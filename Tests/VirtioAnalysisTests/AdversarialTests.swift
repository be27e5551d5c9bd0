import Foundation
import GuestMemory
import Testing
import VirtioAnalysis
import VirtioTestSupport

/// The hand-written hostile memory layouts of `traces/adversarial/`: each raises exactly the
/// findings `expected.json` names, and no walk reads more than the queue allows. (The large
/// generated traces are `traces/adversarial/run.py`'s, run by `.ci/test` with time and
/// memory bounds.)
struct AdversarialTests {
    static let expected: [String: [String]] = {
        guard let text = Fixtures.text("traces/adversarial/expected.json"),
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let layouts = object["layouts"] as? [String: [String]]
        else { return [:] }
        return layouts
    }()

    @Test("every hostile layout raises its findings and nothing else", arguments: Fixtures.list("traces/adversarial").filter { $0.hasSuffix(".handwritten.json") })
    func layout(name: String) throws {
        let want = try #require(Self.expected[name], "\(name) is not in expected.json")
        let text = try #require(Fixtures.text("traces/adversarial/\(name)"))
        let fixture = try MemoryFixture(json: text)
        let report = try fixture.inspect()
        #expect(report.findings.map(\.rule.id).sorted() == want.sorted())
        for queue in report.queues {
            let walked = queue.chains.reduce(0) { $0 + $1.elements.count } + queue.completed.reduce(0) { $0 + $1.chain.elements.count }
            #expect(walked <= max(Int(queue.addresses.size), 1) * 2)
        }
        // The frame export reads the same queues without trapping.
        _ = try fixture.frames()
    }

    @Test("expected.json names exactly the layouts there are")
    func catalogue() {
        #expect(Set(Self.expected.keys) == Set(Fixtures.list("traces/adversarial").filter { $0.hasSuffix(".handwritten.json") }))
    }
}
