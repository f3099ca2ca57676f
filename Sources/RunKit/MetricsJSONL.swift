import Foundation

/// One line of `metrics.jsonl`: the metrics of one iteration.
public struct MetricsRecord: Sendable, Equatable {
    /// Iteration number.
    public var iteration: Int
    /// Seconds since the run started.
    public var time: Double
    /// Metric name → value (NaN where the file had null).
    public var metrics: [String: Double]

    /// Makes a record.
    public init(iteration: Int, time: Double, metrics: [String: Double]) {
        self.iteration = iteration
        self.time = time
        self.metrics = metrics
    }

    /// `{"iteration": i, "time": t, "metrics": {...}}` with keys sorted; non-finite values are null.
    public var jsonLine: String {
        let body = metrics.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \(jsonNumber($0.value))" }
        return "{\"iteration\": \(iteration), \"time\": \(jsonNumber(time)), \"metrics\": {"
            + body.joined(separator: ", ") + "}}"
    }
}

/// Appends one JSON object per iteration to `metrics.jsonl` in a run directory. The first line names the run
/// (`{"run_id": ..., "run": ..., "created": ...}`), so two runs' metrics never mix: a new run refuses a file that
/// holds another run's records, and only a resumed run adds to them. Each record is one write that lands whole
/// or not at all (a failed write, as on a full disk, is cut back), and a torn last line left by a crash is cut
/// off when the file is next opened.
public final class MetricsJSONL: @unchecked Sendable {
    /// The file being appended to.
    public let path: String
    /// The id of the run the file belongs to.
    public let runID: String
    /// Bytes of a torn last line cut off at opening (0 when the file ended cleanly).
    public let droppedTornBytes: Int
    let file: AppendFile

    /// Opens (creating if needed) `directory/metrics.jsonl` for appending. A new run (`resume` false) refuses a
    /// file that holds records; `run` names the run in a new file's first line. Errors name the file and
    /// `setting`, the config key that chose the directory.
    public init(directory: String, resume: Bool, run: String? = nil, setting: String = "run.dir") throws {
        try RunFile.makeDirectory(directory, setting: setting)
        path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        var bytes: [UInt8] = []
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RunFileError(setting: setting, path: path, action: "read", reason: "not a readable file")
            }
            bytes = Array(data)
        }
        // A crash mid-write leaves a last line without its newline: cut it off.
        let clean = (bytes.lastIndex(of: 0x0a)).map { $0 + 1 } ?? 0
        droppedTornBytes = bytes.count - clean
        if droppedTornBytes > 0 {
            bytes.removeSubrange(clean...)
            if truncate(path, off_t(clean)) != 0 {
                throw RunFileError.posix(setting, path, "cut the torn last line of")
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let header = Self.header(text)
        let records = text.split(separator: "\n").count - (header == nil ? 0 : 1)
        if !resume && records > 0 {
            throw RunFileError(
                setting: setting, path: path, action: "start a new run in",
                reason: "it holds \(records) metrics records of an earlier run"
                    + (header.map { " (run id \($0.id))" } ?? "")
                    + "; pass --resume to continue that run, or choose another run.name")
        }
        if let header, resume {
            runID = header.id
        } else {
            runID = UUID().uuidString.lowercased()
            let line = Self.headerLine(id: runID, run: run ?? (directory as NSString).lastPathComponent)
            let kept = records > 0 ? text.split(separator: "\n").joined(separator: "\n") + "\n" : ""
            try RunFile.writeAtomically(Array((line + kept).utf8), to: path, setting: setting)
        }
        file = try AppendFile(path: path, setting: setting)
    }

    /// Appends the metrics of one iteration as one line.
    public func append(iteration: Int, time: Double, metrics: [String: Double]) throws {
        try append(MetricsRecord(iteration: iteration, time: time, metrics: metrics))
    }

    /// Appends one record as one line, whole or not at all.
    public func append(_ record: MetricsRecord) throws {
        try file.append(Array((record.jsonLine + "\n").utf8))
    }

    /// The run id and name of a metrics file's first line, when it is a header.
    static func header(_ text: String) -> (id: String, run: String)? {
        guard let first = text.split(separator: "\n", maxSplits: 1).first,
            let object = try? JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any],
            object["iteration"] == nil, let id = object["run_id"] as? String
        else { return nil }
        return (id, object["run"] as? String ?? "")
    }

    private static func headerLine(id: String, run: String) -> String {
        let created = ISO8601DateFormatter().string(from: Date())
        return "{\"run_id\": \(jsonString(id)), \"run\": \(jsonString(run)), \"created\": \(jsonString(created))}\n"
    }

    /// Resuming at a checkpoint of `iteration`: records of later iterations (the interrupted run went on past
    /// its last checkpoint) move to `metrics.discarded.jsonl` beside the file, so every iteration appears once in
    /// `metrics.jsonl` and nothing is deleted. Returns how many records moved. `after: -1` moves every record
    /// (a run resumed before its first checkpoint starts over).
    @discardableResult
    public static func setAside(path: String, after iteration: Int, setting: String = "run.dir") throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let records = try read(path: path)
        let later = records.filter { $0.iteration > iteration }
        guard !later.isEmpty else { return 0 }
        let aside = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
            "metrics.discarded.jsonl")
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let first = text.split(separator: "\n", maxSplits: 1).first
        let head = first.flatMap { header(text) != nil ? String($0) + "\n" : nil }
        let kept = (head ?? "") + records.filter { $0.iteration <= iteration }.map { $0.jsonLine + "\n" }.joined()
        let moved = later.map { $0.jsonLine + "\n" }.joined()
        try AppendFile(path: aside, setting: setting).append(Array(moved.utf8))
        try RunFile.writeAtomically(Array(kept.utf8), to: path, setting: setting)
        return later.count
    }

    /// Reads a metrics file; a torn last line (a crash mid-write) is skipped, any other bad line
    /// is an error naming its line number.
    public static func read(path: String) throws -> [MetricsRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(key: "", message: "cannot read the metrics file", location: path)
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var records: [MetricsRecord] = []
        let skip = header(text) == nil ? -1 : 0
        for (index, line) in lines.enumerated()
        where index != skip && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            if let record = parse(line) {
                records.append(record)
            } else if index != lines.count - 1 {
                throw ConfigError(key: "", message: "line \(index + 1) is not a metrics record", location: path)
            }
        }
        return records
    }

    private static func parse(_ line: Substring) -> MetricsRecord? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let iteration = (object["iteration"] as? NSNumber)?.intValue,
            let metrics = object["metrics"] as? [String: Any]
        else { return nil }
        let time = (object["time"] as? NSNumber)?.doubleValue ?? .nan
        var values: [String: Double] = [:]
        for (key, value) in metrics { values[key] = (value as? NSNumber)?.doubleValue ?? .nan }
        return MetricsRecord(iteration: iteration, time: time, metrics: values)
    }
}

private func jsonNumber(_ x: Double) -> String {
    guard x.isFinite else { return "null" }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return "\(x)"
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
