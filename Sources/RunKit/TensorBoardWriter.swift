import Foundation

/// Writes scalars to a TensorBoard event file (`events.out.tfevents.<unix time>.<hostname>`)
/// in a run directory, so `tensorboard --logdir RUN` plots them. Every record is written to the
/// file as it comes (no buffering), so a crash loses nothing already added.
public final class TensorBoardWriter: @unchecked Sendable {
    /// The event file being written.
    public let path: String
    private let file: AppendFile

    /// Creates `directory` if needed and a new event file in it, starting with the
    /// `file_version` record stamped `wallTime` (seconds since 1970).
    /// I/O errors are `RunFileError`s naming the file and `setting`.
    public init(
        directory: String, wallTime: Double = Date().timeIntervalSince1970,
        hostname: String = ProcessInfo.processInfo.hostName, setting: String = "run.dir"
    ) throws {
        let fm = FileManager.default
        try RunFile.makeDirectory(directory, setting: setting)
        let host = hostname.isEmpty ? "localhost" : hostname.replacingOccurrences(of: "/", with: "_")
        let seconds = wallTime.isFinite ? Int64(max(0, min(wallTime, 1e15)).rounded(.down)) : 0
        let base = (directory as NSString).appendingPathComponent("events.out.tfevents.\(seconds).\(host)")
        var candidate = base
        var counter = 0
        while fm.fileExists(atPath: candidate) {
            counter += 1
            candidate = base + ".\(counter)"
        }
        path = candidate
        file = try AppendFile(path: candidate, setting: setting, truncate: true)
        try write(TensorBoardEvent.record(TensorBoardEvent.fileVersion(wallTime: wallTime)))
    }

    /// Adds one scalar point (stored as a 32-bit float, as TensorBoard does).
    public func add(tag: String, value: Double, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        let event = TensorBoardEvent.scalar(tag: tag, value: Float(value), step: Int64(step), wallTime: wallTime)
        try write(TensorBoardEvent.record(event))
    }

    /// Adds every scalar of one step, in tag order; non-finite values are skipped.
    public func add(scalars: [String: Double], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        var bytes: [UInt8] = []
        for (tag, value) in scalars.sorted(by: { $0.key < $1.key }) where value.isFinite {
            bytes += TensorBoardEvent.record(
                TensorBoardEvent.scalar(tag: tag, value: Float(value), step: Int64(step), wallTime: wallTime))
        }
        try write(bytes)
    }

    /// Adds a markdown text summary.
    public func add(text markdown: String, tag: String, step: Int, wallTime: Double = Date().timeIntervalSince1970)
        throws
    {
        try write(
            TensorBoardEvent.record(
                TensorBoardEvent.text(
                    tag: tag, markdown: markdown, step: Int64(step),
                    wallTime: wallTime)))
    }

    private func write(_ bytes: [UInt8]) throws {
        try file.append(bytes)
    }
}
