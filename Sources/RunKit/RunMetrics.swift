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

    /// The config key named in I/O errors.
    public let setting: String

    /// Opens the sinks in `directory` (created if needed). A new run (`resume` false) refuses a directory whose
    /// `metrics.jsonl` holds another run's records. I/O errors are `RunFileError`s naming the file and `setting`.
    public init(directory: String, resume: Bool, setting: String = "run.dir") throws {
        self.directory = directory
        self.setting = setting
        jsonl = try MetricsJSONL(directory: directory, resume: resume, setting: setting)
        records = try MetricsJSONL.read(path: jsonl.path)
        tensorBoard = try TensorBoardWriter(directory: directory, setting: setting)
    }

    /// Checks, before a run binds any socket, that `directory` can be created and written, and (for a new
    /// run) that its `metrics.jsonl` holds no earlier run's records; throws a one-line `RunFileError`.
    public static func check(directory: String, resume: Bool, setting: String = "run.dir") throws {
        try RunFile.checkWritable(directory, setting: setting)
        let path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        guard !resume, let data = FileManager.default.contents(atPath: path) else { return }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n").count - (MetricsJSONL.header(text) == nil ? 0 : 1)
        if lines > 0 {
            throw RunFileError(
                setting: setting, path: path, action: "start a new run in",
                reason: "it holds \(lines) metrics records of an earlier run; pass --resume to continue "
                    + "that run, or choose another run.name")
        }
    }

    /// Path of `metrics.jsonl`.
    public var jsonlPath: String { jsonl.path }
    /// Path of the TensorBoard event file this process writes.
    public var eventFilePath: String { tensorBoard.path }
    /// Path of `chart.svg`.
    public var chartPath: String { (directory as NSString).appendingPathComponent("chart.svg") }

    /// Records one iteration: a JSONL line and TensorBoard scalars (step = iteration), stamped
    /// `time` seconds since the run started.
    public func record(
        iteration: Int, time: Double, metrics: [String: Double],
        wallTime: Double = Date().timeIntervalSince1970
    ) throws {
        let record = MetricsRecord(iteration: iteration, time: time, metrics: metrics)
        lock.lock()
        records.append(record)
        lock.unlock()
        try jsonl.append(record)
        try tensorBoard.add(scalars: metrics, step: iteration, wallTime: wallTime)
    }

    /// Path of `samples.jsonl` (held-out prompts with the policy's responses, one JSON object a line).
    public var samplesPath: String { (directory as NSString).appendingPathComponent("samples.jsonl") }

    /// Appends JSON `lines` to `samples.jsonl` and `markdown` to TensorBoard as the text summary `tag`.
    public func recordSamples(lines: [String], markdown: String, tag: String, step: Int) throws {
        let file = try AppendFile(path: samplesPath, setting: setting, truncate: false)
        try file.append(Array(lines.map { $0 + "\n" }.joined().utf8))
        try tensorBoard.add(text: markdown, tag: tag, step: step)
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
            .write(to: chartPath, setting: setting)
    }
}
