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

/// Appends one JSON object per iteration to `metrics.jsonl` in a run directory. The file is
/// opened in append mode and each line goes to the file with one write, so earlier lines
/// survive a crash and a resumed run adds to the same file.
public final class MetricsJSONL: @unchecked Sendable {
    /// The file being appended to.
    public let path: String
    private let handle: FileHandle
    private let lock = NSLock()

    /// Opens (creating if needed) `directory/metrics.jsonl` for appending.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: path), !FileManager.default.createFile(atPath: path, contents: nil) {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Appends the metrics of one iteration as one line.
    public func append(iteration: Int, time: Double, metrics: [String: Double]) throws {
        try append(MetricsRecord(iteration: iteration, time: time, metrics: metrics))
    }

    /// Appends one record as one line.
    public func append(_ record: MetricsRecord) throws {
        let line = Data((record.jsonLine + "\n").utf8)
        lock.lock()
        defer { lock.unlock() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }

    /// Resuming at a checkpoint of `iteration`: records of later iterations (the interrupted run went on past
    /// its last checkpoint) move to `metrics.discarded.jsonl` beside the file, so every iteration appears once in
    /// `metrics.jsonl` and nothing is deleted. Returns how many records moved.
    @discardableResult
    public static func setAside(path: String, after iteration: Int) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        let records = try read(path: path)
        let later = records.filter { $0.iteration > iteration }
        guard !later.isEmpty else { return 0 }
        let aside = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("metrics.discarded.jsonl")
        let kept = records.filter { $0.iteration <= iteration }.map { $0.jsonLine + "\n" }.joined()
        let moved = later.map { $0.jsonLine + "\n" }.joined()
        if !FileManager.default.fileExists(atPath: aside) { FileManager.default.createFile(atPath: aside, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: aside))
        try h.seekToEnd()
        try h.write(contentsOf: Data(moved.utf8))
        try h.close()
        try Data(kept.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return later.count
    }

    /// Reads a metrics file; a torn last line (a crash mid-write) is skipped, any other bad line
    /// is an error naming its line number.
    public static func read(path: String) throws -> [MetricsRecord] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var records: [MetricsRecord] = []
        for (index, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
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
              let metrics = object["metrics"] as? [String: Any] else { return nil }
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
