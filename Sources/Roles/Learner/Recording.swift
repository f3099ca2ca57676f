// A recording of a learner run (`rpp learner --record DIR`), read back by `rpp replay DIR`. Layout:
//
//   DIR/recording.json          format, BLAS core and worker count of the recording process, creation time
//   DIR/config.yaml             the run's effective config (RunConfig.yaml)
//   DIR/start/                  Trainer checkpoint just before the first recorded update
//   DIR/batches/iter-NNNNNN.frame  one .experienceBatch frame per iteration: the whole rollout batch in order
//                               (unit_id = iteration, worker_id = "rpp-record"), zstd-compressed, unsigned
//   DIR/index.jsonl             one line per batch: iteration, file, frame_bytes, frame_sha256, policy_version
//                               and params_sha256 before the update, samples, samples_per_prompt
//   DIR/final.json              written when the learner finishes or stops: iterations, policy version and the
//                               SHA-256 of the final parameters
import Crypto
import Foundation
import Model
import RunKit
import Wire

/// A recording that cannot be written or read, with a message naming the file and what to do.
public struct RecordingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: String, Sendable, CaseIterable {
        /// The directory already holds a recording.
        case exists
        /// A file could not be written or read.
        case io
        /// A file the recording needs is not there.
        case missingFile
        /// A file is there but is not what the format says (bad JSON, bad frame, wrong kind).
        case malformed
        /// A batch file's bytes do not match the SHA-256 or size in the index.
        case checksumMismatch
        /// A batch holds a different number of samples than the index or config says.
        case sampleCount
        /// The recorded config.yaml does not load.
        case config
        /// Replay produced parameters that differ from the recorded ones.
        case diverged
        /// An iteration the recording does not hold was asked for.
        case notRecorded
    }

    /// The kind of problem.
    public let code: Code
    /// One line: what was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message (it names the file).
    public var description: String { message }
}

/// The names of a recording's files.
public enum RecordingLayout {
    /// Format version in recording.json.
    public static let formatVersion = 1
    /// The worker id of recorded frames.
    public static let workerID = "rpp-record"
    public static let header = "recording.json"
    public static let config = "config.yaml"
    public static let start = "start"
    public static let batches = "batches"
    public static let index = "index.jsonl"
    public static let final = "final.json"

    /// The checksum index.jsonl keeps of a frame file: SHA-256, lower-case hex.
    public static func frameDigest(_ bytes: [UInt8]) -> String { WeightDigest.hex(Array(SHA256.hash(data: bytes))) }

    /// `batches/iter-NNNNNN.frame`, relative to the recording.
    public static func batchFile(iteration: Int) -> String { String(format: "\(batches)/iter-%06d.frame", iteration) }
}

/// recording.json: what a replay needs to know about the process that recorded.
public struct RecordingHeader: Codable, Sendable, Equatable {
    /// `RecordingLayout.formatVersion` of the writer.
    public var format: Int
    /// Frame wire version of the batch files.
    public var frameVersion: Int
    /// OpenBLAS core type of the recording process (`rpp replay` re-executes with it).
    public var blasCore: String
    /// `Parallel.workers` of the recording process (large products are split across this many cores).
    public var workers: Int
    /// ISO 8601 creation time.
    public var created: String
    /// The kernel of bf16 products in the recording process (`MatmulKernel`; `rpp replay` uses it too); absent
    /// in recordings made before bf16 products existed.
    public var matmulKernel: String? = nil

    enum CodingKeys: String, CodingKey {
        case format
        case frameVersion = "frame_version"
        case blasCore = "blas_core"
        case workers, created
        case matmulKernel = "matmul_kernel"
    }
}

/// One line of index.jsonl.
public struct RecordingIndexEntry: Codable, Sendable, Equatable {
    /// The learner iteration this batch was consumed by (1-based).
    public var iteration: Int
    /// The frame file, relative to the recording.
    public var file: String
    /// Size of the frame file.
    public var frameBytes: Int
    /// SHA-256 of the frame file, lower-case hex.
    public var frameSHA256: String
    /// Policy version of the trainer before the update.
    public var policyVersion: UInt64
    /// SHA-256 of the parameters before the update, lower-case hex.
    public var paramsSHA256: String
    /// Samples in the batch.
    public var samples: Int
    /// Samples per prompt (n) of the batch.
    public var samplesPerPrompt: Int

    enum CodingKeys: String, CodingKey {
        case iteration, file
        case frameBytes = "frame_bytes"
        case frameSHA256 = "frame_sha256"
        case
            policyVersion = "policy_version"
        case paramsSHA256 = "params_sha256"
        case samples
        case
            samplesPerPrompt = "samples_per_prompt"
    }
}

/// final.json: where the recorded run ended.
public struct RecordingFinal: Codable, Sendable, Equatable {
    /// Iterations the trainer had completed.
    public var iterations: Int
    /// Policy version of the final parameters.
    public var policyVersion: UInt64
    /// SHA-256 of the final parameters, lower-case hex.
    public var paramsSHA256: String
    /// Batches in index.jsonl.
    public var batches: Int
    /// True when the learner was stopped before run.iterations.
    public var stoppedEarly: Bool

    enum CodingKeys: String, CodingKey {
        case iterations
        case policyVersion = "policy_version"
        case paramsSHA256 = "params_sha256"
        case batches
        case
            stoppedEarly = "stopped_early"
    }
}

/// Writes a recording while a learner runs: attach it before `run()`, call `finish` after.
public final class Recorder: @unchecked Sendable {
    /// The recording directory.
    public let directory: URL
    /// Batches written so far.
    public private(set) var batches = 0
    private var started = false
    private let index: FileHandle
    private let codec = FrameCodec(compression: .always)

    /// Creates `directory` (or uses an empty one) and writes recording.json, config.yaml and an empty index.
    /// Throws `.exists` when the directory already holds a recording.
    public init(directory: URL, config: RunConfig) throws {
        self.directory = directory
        let fm = FileManager.default
        let held = [
            RecordingLayout.header, RecordingLayout.index, RecordingLayout.start, RecordingLayout.batches,
            RecordingLayout.final,
        ].filter { fm.fileExists(atPath: directory.appendingPathComponent($0).path) }
        if !held.isEmpty {
            throw RecordingError(
                .exists,
                "\(directory.path) already holds a recording (\(held.joined(separator: ", "))): "
                    + "choose a new directory for --record, or delete this one")
        }
        do {
            try fm.createDirectory(
                at: directory.appendingPathComponent(RecordingLayout.batches), withIntermediateDirectories: true)
            try config.write(toDirectory: directory.path, setting: "--record")
            let header = RecordingHeader(
                format: RecordingLayout.formatVersion, frameVersion: Int(FrameHeader.currentVersion),
                blasCore: OpenBLASTuning.coreName, workers: Parallel.workers,
                created: ISO8601DateFormatter().string(from: Date()),
                matmulKernel: MatmulKernel.selected.rawValue)
            try Self.writeJSON(header, to: directory.appendingPathComponent(RecordingLayout.header))
            let indexURL = directory.appendingPathComponent(RecordingLayout.index)
            guard fm.createFile(atPath: indexURL.path, contents: nil) else {
                throw RecordingError(.io, "cannot create \(indexURL.path): check that the directory is writable")
            }
            index = try FileHandle(forWritingTo: indexURL)
        } catch let e as RecordingError { throw e } catch {
            throw RecordingError(.io, "cannot start a recording in \(directory.path): \(ioReason(error))")
        }
    }

    deinit { try? index.close() }

    /// Sends every batch `learner` consumes to `record(_:trainer:)`.
    public func attach(to learner: Learner) {
        learner.recordBatch = { [self] batch, trainer in try record(batch, trainer: trainer) }
    }

    /// Writes `batch` (about to be consumed by `trainer.update`) as a frame and appends its index line; the
    /// first call also saves the trainer as start/. Errors name the file.
    public func record(_ batch: RolloutBatch, trainer: Trainer) throws {
        try saveStartIfNeeded(trainer)
        let iteration = trainer.iteration + 1
        let frame = codec.encode(
            .experienceBatch(
                ExperienceBatch(
                    unitID: UInt64(iteration), workerID: RecordingLayout.workerID,
                    items: batch.experiences)))
        let file = RecordingLayout.batchFile(iteration: iteration)
        let url = directory.appendingPathComponent(file)
        do { try Data(frame).write(to: url, options: .atomic) } catch {
            throw RecordingError(.io, "cannot write \(url.path): \(ioReason(error))")
        }
        let entry = RecordingIndexEntry(
            iteration: iteration, file: file, frameBytes: frame.count,
            frameSHA256: RecordingLayout.frameDigest(frame), policyVersion: trainer.version,
            paramsSHA256: WeightDigest.hex(trainer.parametersSHA256), samples: batch.count,
            samplesPerPrompt: batch.samplesPerPrompt)
        try appendIndex(entry)
        batches += 1
    }

    /// Writes final.json from the trainer's current state (and start/ if no batch came); returns the
    /// parameters' SHA-256.
    @discardableResult
    public func finish(trainer: Trainer, stoppedEarly: Bool) throws -> [UInt8] {
        try saveStartIfNeeded(trainer)
        let sha = trainer.parametersSHA256
        let final = RecordingFinal(
            iterations: trainer.iteration, policyVersion: trainer.version, paramsSHA256: WeightDigest.hex(sha),
            batches: batches, stoppedEarly: stoppedEarly)
        try Self.writeJSON(final, to: directory.appendingPathComponent(RecordingLayout.final))
        do { try index.close() } catch {
            throw RecordingError(
                .io, "cannot close \(directory.appendingPathComponent(RecordingLayout.index).path): \(ioReason(error))")
        }
        return sha
    }

    private func saveStartIfNeeded(_ trainer: Trainer) throws {
        if started { return }
        let dir = directory.appendingPathComponent(RecordingLayout.start)
        let partial = directory.appendingPathComponent(".start.partial")
        do {
            try? FileManager.default.removeItem(at: partial)
            try trainer.save(directory: partial)
            try FileManager.default.moveItem(at: partial, to: dir)
        } catch {
            throw RecordingError(.io, "cannot save the starting state to \(dir.path): \(error)")
        }
        started = true
    }

    private func appendIndex(_ entry: RecordingIndexEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            var line = try encoder.encode(entry)
            line.append(0x0A)
            try index.write(contentsOf: line)
        } catch {
            throw RecordingError(
                .io,
                "cannot append to \(directory.appendingPathComponent(RecordingLayout.index).path): "
                    + "\(ioReason(error))")
        }
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(value).write(to: url, options: .atomic) } catch {
            throw RecordingError(.io, "cannot write \(url.path): \(ioReason(error))")
        }
    }
}
