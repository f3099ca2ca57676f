import Foundation

/// Writes scalars to a TensorBoard event file (`events.out.tfevents.<unix time>.<hostname>`)
/// in a run directory, so `tensorboard --logdir RUN` plots them. Every record is written to the
/// file as it comes (no buffering), so a crash loses nothing already added.
public final class TensorBoardWriter: @unchecked Sendable {
    /// The event file being written.
    public let path: String
    private let handle: FileHandle
    private let lock = NSLock()

    /// Creates `directory` if needed and a new event file in it, starting with the
    /// `file_version` record stamped `wallTime` (seconds since 1970).
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970,
                hostname: String = ProcessInfo.processInfo.hostName) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = hostname.isEmpty ? "localhost" : hostname.replacingOccurrences(of: "/", with: "_")
        let base = (directory as NSString).appendingPathComponent(
            "events.out.tfevents.\(Int64(wallTime.rounded(.down))).\(host)")
        var candidate = base
        var counter = 0
        while fm.fileExists(atPath: candidate) {
            counter += 1
            candidate = base + ".\(counter)"
        }
        guard fm.createFile(atPath: candidate, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: candidate])
        }
        path = candidate
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: candidate))
        try write(TensorBoardEvent.record(TensorBoardEvent.fileVersion(wallTime: wallTime)))
    }

    deinit { try? handle.close() }

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

    private func write(_ bytes: [UInt8]) throws {
        if bytes.isEmpty { return }
        lock.lock()
        defer { lock.unlock() }
        try handle.write(contentsOf: Data(bytes))
    }
}
