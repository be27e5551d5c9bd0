/// Left/right aligned plain-text columns. Width is counted in Unicode scalars, which is
/// right for the ASCII, `→` and `µ` this tool prints.
struct TextTable {
    enum Alignment { case left, right }

    let headers: [String]
    let alignments: [Alignment]
    private(set) var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) {
        self.headers = columns.map(\.0)
        self.alignments = columns.map(\.1)
    }

    mutating func add(_ row: [String]) { self.rows.append(row) }

    func render(indent: String = "  ") -> String {
        let all = [self.headers] + self.rows
        var widths = [Int](repeating: 0, count: self.headers.count)
        for row in all {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.unicodeScalars.count)
            }
        }
        var lines: [String] = []
        for row in all {
            var cells: [String] = []
            for (column, cell) in row.enumerated() where column < widths.count {
                let padding = String(repeating: " ", count: widths[column] - cell.unicodeScalars.count)
                let isLast = column == row.count - 1
                switch self.alignments[column] {
                case .left: cells.append(isLast ? cell : cell + padding)
                case .right: cells.append(padding + cell)
                }
            }
            lines.append(indent + cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
