import VirtioModel

/// The one way request-shape rules report: the number of offending pops on a queue, at the
/// first of them.
enum RequestShape {
    static func finding(
        _ shape: ShapeStatistics.Shape, of queue: QueueState, _ what: String
    ) -> [SummaryFinding] {
        guard shape.count > 0 else { return [] }
        let example = "in_num \(shape.example.inNum), out_num \(shape.example.outNum)"
        return [
            SummaryFinding(
                message: "\(shape.count) of \(queue.pops) pops \(what) (first: \(example))",
                line: shape.firstLine, timestamp: shape.firstTime)
        ]
    }
}
