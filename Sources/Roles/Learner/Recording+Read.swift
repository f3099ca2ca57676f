// Reading a recording back (see Recording.swift for the layout): the header, config, index and final state,
// and each batch checked against its index line (size, SHA-256, frame, kind, iteration, sample count).
import Foundation
import RunKit
import Wire

/// A recording on disk, its small files loaded and checked; batches are read one at a time.
public struct Recording: Sendable {
    /// The recording directory.
    public let directory: URL
    /// recording.json.
    public let header: RecordingHeader
    /// config.yaml, loaded strictly.
    public let config: RunConfig
    /// index.jsonl, in order.
    public let entries: [RecordingIndexEntry]
    /// final.json; nil when the learner did not finish (killed, or crashed).
    public let final: RecordingFinal?

    /// Loads recording.json, config.yaml, index.jsonl and final.json from `directory`; start/ and the batch
    /// files are checked when used. Throws `RecordingError` naming the file.
    public init(directory: URL) throws {
        self.directory = directory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw RecordingError(
                .missingFile, "\(directory.path): no such recording directory; make one with `rpp learner --record DIR`"
            )
        }
        header = try Self.readJSON(RecordingHeader.self, directory.appendingPathComponent(RecordingLayout.header))
        guard header.format == RecordingLayout.formatVersion else {
            throw RecordingError(
                .malformed,
                "\(directory.appendingPathComponent(RecordingLayout.header).path): recording format "
                    + "\(header.format), this rpp reads format \(RecordingLayout.formatVersion)")
        }
        let configPath = directory.appendingPathComponent(RecordingLayout.config).path
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw RecordingError(.missingFile, "\(configPath): missing; the recording is incomplete")
        }
        do { config = try RunConfig.load(path: configPath) } catch {
            throw RecordingError(.config, "\(configPath): \(error)")
        }
        entries = try Self.readIndex(directory.appendingPathComponent(RecordingLayout.index))
        let finalURL = directory.appendingPathComponent(RecordingLayout.final)
        final =
            FileManager.default.fileExists(atPath: finalURL.path)
            ? try Self.readJSON(RecordingFinal.self, finalURL) : nil
        if let final, final.batches != entries.count {
            throw RecordingError(
                .malformed,
                "\(finalURL.path) counts \(final.batches) batches but index.jsonl has "
                    + "\(entries.count) lines: the index was edited or truncated")
        }
    }

    /// The start/ checkpoint directory.
    public var startDirectory: URL { directory.appendingPathComponent(RecordingLayout.start) }

    /// Reads the batch of `entry`: checks size and SHA-256 against the index, decodes the frame, and checks its
    /// kind, iteration and sample count.
    public func batch(_ entry: RecordingIndexEntry) throws -> RolloutBatch {
        let url = directory.appendingPathComponent(entry.file)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecordingError(
                .missingFile,
                "\(url.path): missing (iteration \(entry.iteration) in index.jsonl); "
                    + "the recording is incomplete")
        }
        let bytes = [UInt8](data)
        guard bytes.count == entry.frameBytes else {
            throw RecordingError(
                .checksumMismatch,
                "\(url.path): \(bytes.count) bytes, index.jsonl says \(entry.frameBytes) "
                    + "(iteration \(entry.iteration)): the file was truncated or replaced")
        }
        let sha = RecordingLayout.frameDigest(bytes)
        guard sha == entry.frameSHA256 else {
            throw RecordingError(
                .checksumMismatch,
                "\(url.path): SHA-256 \(sha.prefix(16))…, index.jsonl says "
                    + "\(entry.frameSHA256.prefix(16))… (iteration \(entry.iteration)): the file was damaged or replaced"
            )
        }
        let message: WireMessage
        do { message = try FrameCodec().decode(bytes) } catch {
            throw RecordingError(.malformed, "\(url.path): bad frame (\(error))")
        }
        guard case .experienceBatch(let b) = message else {
            throw RecordingError(
                .malformed, "\(url.path): holds a \(message.kind.name) frame, expected experience_batch")
        }
        guard b.unitID == UInt64(entry.iteration) else {
            throw RecordingError(
                .malformed, "\(url.path): frame is for iteration \(b.unitID), index.jsonl says \(entry.iteration)")
        }
        let expected = config.algorithm.rolloutBatch * config.algorithm.samplesPerPrompt
        guard b.items.count == entry.samples, entry.samples == expected,
            entry.samplesPerPrompt == config.algorithm.samplesPerPrompt
        else {
            throw RecordingError(
                .sampleCount,
                "\(url.path): \(b.items.count) samples, index.jsonl says \(entry.samples) "
                    + "(n = \(entry.samplesPerPrompt)) and config.yaml rollout_batch × samples_per_prompt = \(expected)"
            )
        }
        return RolloutBatch(
            iteration: UInt64(entry.iteration), samplesPerPrompt: entry.samplesPerPrompt, experiences: b.items)
    }

    static func readIndex(_ url: URL) throws -> [RecordingIndexEntry] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecordingError(.missingFile, "\(url.path): missing; the recording is incomplete")
        }
        let decoder = JSONDecoder()
        var out: [RecordingIndexEntry] = []
        for (n, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !line.isEmpty
        {
            let entry: RecordingIndexEntry
            do { entry = try decoder.decode(RecordingIndexEntry.self, from: Data(line)) } catch {
                throw RecordingError(.malformed, "\(url.path):\(n + 1): not an index entry (\(describe(error)))")
            }
            if let last = out.last, entry.iteration != last.iteration + 1 {
                throw RecordingError(
                    .malformed,
                    "\(url.path):\(n + 1): iteration \(entry.iteration) follows \(last.iteration); "
                        + "the index must list consecutive iterations")
            }
            guard entry.file == RecordingLayout.batchFile(iteration: entry.iteration) else {
                throw RecordingError(
                    .malformed,
                    "\(url.path):\(n + 1): file \(entry.file) is not "
                        + "\(RecordingLayout.batchFile(iteration: entry.iteration))")
            }
            out.append(entry)
        }
        return out
    }

    static func readJSON<T: Decodable>(_ type: T.Type, _ url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecordingError(
                .missingFile, "\(url.path): missing; is this a directory written by `rpp learner --record`?")
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw RecordingError(.malformed, "\(url.path): malformed (\(describe(error)))")
        }
    }
}

/// A DecodingError in a few words.
private func describe(_ error: any Error) -> String {
    switch error as? DecodingError {
    case .keyNotFound(let key, _): return "no \(key.stringValue)"
    case .typeMismatch(_, let c), .valueNotFound(_, let c):
        return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
    case .dataCorrupted(let c): return c.underlyingError.map { "\($0.localizedDescription)" } ?? c.debugDescription
    default: return "\(error)"
    }
}
