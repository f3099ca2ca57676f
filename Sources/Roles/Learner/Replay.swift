// Replay: the learner's updates re-run from a recording, with no workers and no sockets. A Trainer is made
// from config.yaml and start/, then for each index line the parameters and version are checked against what
// the learner had before that update, the batch file is checked against its SHA-256, and `Trainer.update`
// consumes it. Everything the update depends on (weights, AdamW moments and step, β, version, config, batch)
// comes from the recording, so on the same BLAS kernels and core count the result is bit for bit the
// learner's.
import Foundation
import Model

/// What a replay did.
public struct ReplayResult: Sendable {
    /// Iterations replayed (first...last), empty when the recording holds no batch.
    public var iterations: ClosedRange<Int>?
    /// SHA-256 of the parameters after the last replayed update.
    public var finalSHA256: [UInt8]
    /// The SHA-256 the recording says the parameters had at that point; nil when it does not say
    /// (the learner was killed before writing final.json).
    public var expectedSHA256: String?
    /// Where `expectedSHA256` comes from ("final.json", "index.jsonl: parameters before iteration 3").
    public var expectedSource: String
    /// Wall time of the updates.
    public var seconds: Double

    /// True when the replayed parameters equal the recorded ones.
    public var matches: Bool { expectedSHA256 == WeightDigest.hex(finalSHA256) }
}

/// Re-runs the updates of a recording.
public enum Replay {
    /// Loads the trainer from `recording`'s config.yaml and start/, checks start/ against the first index line.
    public static func makeTrainer(_ recording: Recording) throws -> Trainer {
        let settings: LearnerSettings
        do { settings = try LearnerSettings(config: recording.config, endpoints: .inproc("replay")) } catch {
            throw RecordingError(
                .config, "\(recording.directory.appendingPathComponent(RecordingLayout.config).path): \(error)")
        }
        let start = recording.startDirectory
        guard FileManager.default.fileExists(atPath: start.appendingPathComponent("trainer_state.json").path) else {
            throw RecordingError(
                .missingFile, "\(start.path): no trainer checkpoint (trainer_state.json); the recording is incomplete")
        }
        let trainer: Trainer
        do {
            let loaded = try Transformer.loadCheckpoint(directory: start)
            trainer = Trainer(settings: settings, model: loaded.model, source: loaded.source)
            try trainer.restore(directory: start)
        } catch {
            throw RecordingError(.malformed, "\(start.path): cannot load the starting state (\(error))")
        }
        if let first = recording.entries.first, first.iteration != trainer.iteration + 1 {
            throw RecordingError(
                .malformed,
                "\(recording.directory.appendingPathComponent(RecordingLayout.index).path): "
                    + "starts at iteration \(first.iteration) but start/ is at iteration \(trainer.iteration)")
        }
        return trainer
    }

    /// Replays every batch (or those up to iteration `until`) into `trainer` (from `makeTrainer`): checks every
    /// batch file first, then before each update checks the parameters and version against the index.
    /// `log` gets one line per iteration.
    public static func run(
        _ recording: Recording, trainer: Trainer, until: Int? = nil,
        log: (String) -> Void = { _ in }
    ) throws -> ReplayResult {
        let all = recording.entries
        var entries = all
        if let until {
            let first = all.first?.iteration ?? trainer.iteration + 1
            guard until >= first - 1, until <= (all.last?.iteration ?? trainer.iteration) else {
                throw RecordingError(
                    .notRecorded,
                    "--until \(until): the recording holds iterations "
                        + (all.isEmpty ? "none" : "\(first)–\(all.last!.iteration)"))
            }
            entries = all.filter { $0.iteration <= until }
        }
        // Every batch file is read and checked before the first update, so damage is reported before minutes of
        // compute (the decoded batches are small next to the model: token ids and per-token floats).
        let batches = try entries.map(recording.batch)
        let started = DispatchTime.now().uptimeNanoseconds
        for (entry, batch) in zip(entries, batches) {
            try check(trainer, before: entry, recording: recording)
            let report = try trainer.update(batch)
            log(
                String(
                    format: "replay: iter %d reward %.3f kl %.4f loss %.5f grad norm %.4f v%d", entry.iteration,
                    report.stats.reward.mean, report.stats.klPerToken.mean, report.loss, report.gradNorm,
                    trainer.version))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var result = ReplayResult(
            iterations: entries.isEmpty ? nil : entries.first!.iteration...entries.last!.iteration,
            finalSHA256: trainer.parametersSHA256, expectedSHA256: nil,
            expectedSource: "final.json", seconds: seconds)
        if entries.count < all.count {
            let next = all[entries.count]
            result.expectedSHA256 = next.paramsSHA256
            result.expectedSource = "index.jsonl: parameters before iteration \(next.iteration)"
        } else if let final = recording.final {
            result.expectedSHA256 = final.paramsSHA256
        }
        return result
    }

    /// Throws `.diverged` when the trainer's version or parameters differ from what the learner had before `entry`.
    static func check(_ trainer: Trainer, before entry: RecordingIndexEntry, recording: Recording) throws {
        let sha = WeightDigest.hex(trainer.parametersSHA256)
        guard trainer.version == entry.policyVersion, sha == entry.paramsSHA256 else {
            let cause =
                entry.iteration == recording.entries.first?.iteration
                ? "start/ is not the state the recording began with"
                : "the update of iteration \(entry.iteration - 1) did not reproduce (recorded with OpenBLAS core "
                    + "\(recording.header.blasCore) on \(recording.header.workers) cores, replaying on \(OpenBLASTuning.coreName) "
                    + "with \(Parallel.workers)), or the index was edited"
            throw RecordingError(
                .diverged,
                "iteration \(entry.iteration): before the update the parameters have SHA-256 "
                    + "\(sha.prefix(16))… and policy version \(trainer.version), index.jsonl says "
                    + "\(entry.paramsSHA256.prefix(16))… and version \(entry.policyVersion): \(cause)")
        }
    }
}
