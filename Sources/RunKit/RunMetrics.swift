import Foundation

/// All metrics outputs of one run directory behind one call per iteration: `metrics.jsonl`,
/// a TensorBoard event file and `chart.svg`. On resume it reads the existing `metrics.jsonl`
/// so the chart keeps the earlier iterations.
public final class RunMetrics: @unchecked Sendable {
    /// The run directory.
    public let directory: String
    private let jsonl: MetricsJSONL
    private let tensorBoard: TensorBoardWriter
    private let lock = NSLock()
    private var records: [MetricsRecord]

    /// Opens the sinks in `directory` (created if needed).
    public init(directory: String) throws {
        self.directory = directory
        jsonl = try MetricsJSONL(directory: directory)
        records = try MetricsJSONL.read(path: jsonl.path)
        tensorBoard = try TensorBoardWriter(directory: directory)
    }

    /// Path of `metrics.jsonl`.
    public var jsonlPath: String { jsonl.path }
    /// Path of the TensorBoard event file this process writes.
    public var eventFilePath: String { tensorBoard.path }
    /// Path of `chart.svg`.
    public var chartPath: String { (directory as NSString).appendingPathComponent("chart.svg") }

    /// Records one iteration: a JSONL line and TensorBoard scalars (step = iteration), stamped
    /// `time` seconds since the run started.
    public func record(iteration: Int, time: Double, metrics: [String: Double],
                       wallTime: Double = Date().timeIntervalSince1970) throws {
        let record = MetricsRecord(iteration: iteration, time: time, metrics: metrics)
        lock.lock()
        records.append(record)
        lock.unlock()
        try jsonl.append(record)
        try tensorBoard.add(scalars: metrics, step: iteration, wallTime: wallTime)
    }

    /// Every record so far, including those of earlier processes of the run.
    public var history: [MetricsRecord] {
        lock.lock()
        defer { lock.unlock() }
        return records
    }

    /// Writes the standard chart of every record so far to `chart.svg`.
    public func writeChart(title: String? = nil) throws {
        try SVGChart.standard(records: history, title: title ?? (directory as NSString).lastPathComponent)
            .write(to: chartPath)
    }
}
