// The learner's main loop (see Learner.swift) and its per-iteration record: metrics, progress line,
// evaluation and checkpoints.
import Foundation
import Model
import RLCore
import RunKit
import Wire

/// How a learner run ended.
public struct LearnerResult: Sendable {
    /// Iterations completed.
    public var iterations: Int
    /// Final policy version.
    public var policyVersion: UInt64
    /// Held-out (validation) accuracy before training, if evaluated.
    public var initialAccuracy: Double?
    /// Held-out (validation) accuracy of the last evaluation, if any.
    public var finalAccuracy: Double? { evaluations.last }
    /// Held-out (validation) accuracy of every evaluation during training in this process, in order.
    public var evaluations: [Double] = []
    /// The mean of the last three evaluations (the figure `make run` is judged by), when there were three.
    public var meanOfLastThree: Double? {
        evaluations.count >= 3 ? evaluations.suffix(3).reduce(0, +) / 3 : nil
    }
    /// Test-split accuracy at the end, if evaluated.
    public var testAccuracy: Double?
    /// The last checkpoint directory.
    public var checkpoint: String?
    /// True when `stop()` (or the time limit) ended the run early.
    public var stoppedEarly: Bool
}

extension Learner {
    /// Trains for `run.iterations` iterations (or until `stop()` / `run.max_minutes`), then checkpoints.
    /// With `resume`, starts from the newest checkpoint of the run directory.
    public func run() throws -> LearnerResult {
        let cfg = settings.run
        let log = settings.log
        try prepareStart()
        log(
            "learner: task \(task.summary); responses stop at token(s) \(stopTokens.map(String.init).joined(separator: ", "))"
        )
        let metrics = try RunMetrics(directory: cfg.runDirectory, resume: settings.resume)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var result = LearnerResult(iterations: trainer.iteration, policyVersion: trainer.version, stoppedEarly: false)
        if cfg.eval.every > 0 && !validation.isEmpty && trainer.iteration == 0 {
            let acc = try evaluate(validation, split: "validation", iteration: 0, metrics: metrics).accuracy
            result.initialAccuracy = acc
            try metrics.record(iteration: 0, time: elapsed(), metrics: [MetricName.heldOutAccuracy: acc])
            log(
                String(
                    format: "learner: held-out accuracy before training %.1f%% (%d validation prompts)", acc * 100,
                    validation.count)
                    + (lastSample.map { "; e.g. " + Self.shortLine($0) } ?? ""))
        }
        var sha = try publish(version: trainer.version)
        let total = cfg.run.iterations
        // max_staleness > 0: the next iteration's rollouts are handed out as soon as a batch is complete, so the
        // workers sample (with the previous weights) while the learner updates.
        let overlap = cfg.algorithm.maxStaleness > 0
        hub.maxStaleness = UInt64(cfg.algorithm.maxStaleness)
        var collectStart = elapsed()
        if trainer.iteration < total { try begin(iteration: trainer.iteration + 1) }
        while trainer.iteration < total {
            let iteration = trainer.iteration + 1
            guard let (batch, collector) = hub.waitForBatch(shouldStop: { shouldStop(elapsed: elapsed()) }) else {
                if let why = hub.workersFailed { throw RolesError(.workersFailed, why) }
                result.stoppedEarly = true
                break
            }
            trainer.nextUnitID = collector.ledger.nextUnitID
            let t0 = collectStart
            let t1 = elapsed()
            if overlap && iteration < total {
                collectStart = t1
                try begin(iteration: iteration + 1)
            }
            try recordBatch?(batch, trainer)
            let report = try trainer.update(batch)
            let t2 = elapsed()
            // Evaluate before the new weights go out: on a shared machine the evaluation then has the cores to
            // itself instead of competing with the broadcast and the next iteration's sampling.
            let last = iteration == total
            var accuracy: Double? = nil
            if cfg.eval.every > 0 && !validation.isEmpty && (iteration % cfg.eval.every == 0 || last) {
                accuracy = try evaluate(validation, split: "validation", iteration: iteration, metrics: metrics)
                    .accuracy
            }
            let tEval = elapsed()
            sha = try publish(version: trainer.version)
            let t3 = elapsed()
            let sync = broadcaster.lastBroadcast.flatMap { $0.version == trainer.version ? $0 : nil }
            if !overlap && iteration < total && !shouldStop(elapsed: t3) {
                collectStart = t3
                try begin(iteration: iteration + 1)
            }
            var m: [String: Double] = [
                MetricName.rewardMean: report.stats.reward.mean, MetricName.klPerToken: report.stats.klPerToken.mean,
                MetricName.responseLength: report.stats.responseLength.mean,
                "perf/samples_per_s": Double(batch.count) / max(t1 - t0, 1e-9), "perf/rollout_s": t1 - t0,
                "perf/train_s": t2 - t1, "perf/eval_s": tEval - t2, "perf/broadcast_s": t3 - tEval,
                "perf/peak_rss_mb": peakResidentMegabytes(),
                "train/clip_fraction": report.policy.clipFraction,
                "train/approx_kl": report.policy.approxKL, "train/loss": report.loss,
                "train/grad_norm": report.gradNorm,
                "train/kl_coef": trainer.klCoef, "policy/version": Double(trainer.version),
                "cluster/workers_alive": Double(hub.workersAlive),
                "cluster/reissued_units": Double(collector.ledger.counters.reissued),
                "cluster/duplicate_deliveries": Double(collector.ledger.counters.duplicatesDropped),
                "cluster/dropped_samples": Double(collector.assembler.counters.droppedSamples),
                "cluster/stale_dropped_samples": Double(collector.assembler.counters.staleSamples),
                "cluster/stale_samples_used": Double(report.staleSamples),
                "cluster/samples": Double(batch.count),
                "broadcast/bytes": Double(sync?.wireBytes ?? 0),
                "broadcast/raw_bytes": Double(model.parameterCount * 4),
                "broadcast/seconds": sync?.seconds ?? .nan,
            ]
            if let extra = report.extraMetrics { m.merge(extra) { $1 } }
            if let diff = report.logprobAbsDiff { m["rollout/logprob_abs_diff"] = diff }
            var line = String(format: "iter %d/%d reward %.3f", iteration, total, report.stats.reward.mean)
            if let acc = accuracy {
                m[MetricName.heldOutAccuracy] = acc
                result.evaluations.append(acc)
                line += String(format: " acc %.1f%%", acc * 100)
            }
            line +=
                String(
                    format:
                        " kl %.4f len %.2f samples/s %.0f clip %.3f v%d workers %d (rollout %.2fs train %.2fs sync %.2fs ",
                    report.stats.klPerToken.mean, report.stats.responseLength.mean, m["perf/samples_per_s"]!,
                    report.policy.clipFraction, trainer.version, hub.workersAlive, t1 - t0, t2 - t1, t3 - tEval)
                + byteString(sync?.wireBytes ?? 0) + (accuracy == nil ? "" : String(format: " eval %.2fs", tEval - t2))
                + ")"
            if let v = report.extraMetrics?["critic/value_loss"] { line += String(format: " value loss %.4f", v) }
            if m[MetricName.heldOutAccuracy] != nil, let s = lastSample { line += " e.g. " + Self.shortLine(s) }
            try metrics.record(iteration: iteration, time: elapsed(), metrics: m)
            log(line)
            result.iterations = iteration
            result.policyVersion = trainer.version
            if cfg.checkpoint.every > 0 && iteration % cfg.checkpoint.every == 0 && !last {
                result.checkpoint = try saveCheckpoint()
            }
            onIteration?(
                IterationSummary(
                    iteration: iteration, policyVersion: trainer.version, samples: batch.count,
                    sampleVersions: batch.experiences.map(\.rollout.policyVersion),
                    workers: Set(batch.experiences.map(\.rollout.workerID)), metrics: m,
                    weightsSHA256: sha))
            if shouldStop(elapsed: elapsed()) && trainer.iteration < total {
                result.stoppedEarly = true
                break
            }
        }
        if cfg.eval.every > 0 && !test.isEmpty && result.iterations > 0 && !result.stoppedEarly {
            result.testAccuracy = try evaluate(test, split: "test", iteration: result.iterations, metrics: metrics)
                .accuracy
            log(String(format: "learner: test accuracy %.1f%% (%d prompts)", result.testAccuracy! * 100, test.count))
        }
        for line in beforeAndAfterLines() { log(line) }
        result.checkpoint = try saveCheckpoint()
        try metrics.writeChart()
        log(
            "learner: checkpoint \(result.checkpoint!) (weights sha256 \(WeightDigest.hex(sha))); metrics in \(metrics.directory)"
        )
        return result
    }

    /// Restores the newest checkpoint when resuming; refuses to overwrite a run that has checkpoints otherwise.
    private func prepareStart() throws {
        let dir = settings.run.runDirectory
        guard let checkpoint = Trainer.latestCheckpoint(runDirectory: dir) else {
            guard settings.resume else { return }
            // The earlier process stopped before its first checkpoint: this one starts over; its records move aside.
            let moved = try MetricsJSONL.setAside(
                path: (dir as NSString).appendingPathComponent("metrics.jsonl"),
                after: -1)
            settings.log(
                "learner: nothing to resume in \(dir) yet; starting from model.init"
                    + (moved > 0 ? " (\(moved) earlier metrics records moved to metrics.discarded.jsonl)" : ""))
            return
        }
        guard settings.resume else {
            throw RolesError(
                .invalidConfig,
                "run directory \(dir) already holds \(checkpoint.lastPathComponent): "
                    + "pass --resume to continue that run, or choose another run.name")
        }
        do { try trainer.restore(directory: checkpoint) } catch {
            throw RolesError(.invalidConfig, "cannot resume from \(checkpoint.path): \(error)")
        }
        let moved = try MetricsJSONL.setAside(
            path: (dir as NSString).appendingPathComponent("metrics.jsonl"),
            after: trainer.iteration)
        let events = try TensorBoardWriter.setAside(directory: dir, after: trainer.iteration)
        settings.log(
            "learner: resumed from \(checkpoint.path): iteration \(trainer.iteration), policy version "
                + "\(trainer.version)\(moved > 0 ? ", \(moved) later metrics records moved to metrics.discarded.jsonl" : "")"
                + (events > 0 ? ", \(events) later TensorBoard events moved to discarded/" : ""))
    }

    /// Hands the prompts of `iteration` to the hub as work units.
    private func begin(iteration: Int) throws {
        let cfg = settings.run
        let prompts = try task.prompts(
            iteration: iteration, count: cfg.algorithm.rolloutBatch, seed: UInt64(cfg.run.seed))
        let ledger = try WorkLedger(
            iteration: UInt64(iteration), prompts: prompts, unitSize: settings.unitPrompts,
            samplesPerPrompt: cfg.algorithm.samplesPerPrompt, sampling: settings.sampling(stopTokens: stopTokens),
            leaseMillis: millis(seconds: cfg.cluster.leaseSeconds),
            minPolicyVersion: trainer.version, firstUnitID: trainer.nextUnitID)
        let assembler = try BatchAssembler(
            iteration: UInt64(iteration), promptOrder: prompts.map(\.id),
            config: .init(
                samplesPerPrompt: cfg.algorithm.samplesPerPrompt, maxResponseTokens: cfg.sampling.maxNewTokens,
                requireRefLogprobs: cfg.kl.coef > 0, policyVersion: trainer.version,
                maxStaleness: UInt64(cfg.algorithm.maxStaleness)))
        hub.begin(try IterationCollector(ledger: ledger, assembler: assembler))
    }

    private func shouldStop(elapsed: Double) -> Bool {
        let limit = settings.run.run.maxMinutes
        return isStopping || (limit > 0 && elapsed > limit * 60)
    }

    /// Saves the trainer (weights, optimiser, counters) to `run/checkpoints/iter-NNNNNN`, written under a temporary
    /// name and renamed, so a kill mid-save never leaves a half checkpoint; prunes beyond `checkpoint.keep`.
    /// Failures (a full disk) are one-line `RunFileError`s naming the checkpoint and `run.dir`.
    func saveCheckpoint() throws -> String {
        let root = URL(fileURLWithPath: settings.run.runDirectory).appendingPathComponent("checkpoints")
        let name = String(format: "iter-%06d", trainer.iteration)
        let dir = root.appendingPathComponent(name)
        let partial = root.appendingPathComponent(".\(name).partial")
        let fm = FileManager.default
        try? fm.removeItem(at: partial)
        do {
            try trainer.save(directory: partial)
            try? fm.removeItem(at: dir)
            try fm.moveItem(at: partial, to: dir)
        } catch {
            try? fm.removeItem(at: partial)
            throw RunFileError(
                setting: "run.dir", path: dir.path, action: "save the checkpoint",
                reason: ioReason(error))
        }
        let all = ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix("iter-") }.sorted()
        for old in all.dropLast(max(1, settings.run.checkpoint.keep)) {
            try? fm.removeItem(at: root.appendingPathComponent(old))
        }
        return dir.path
    }
}

/// The process's peak resident set so far, in MiB (getrusage).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return .nan }
    return Double(usage.ru_maxrss) / 1024
}

/// "1.2 MB"-style size.
func byteString(_ bytes: Int) -> String {
    bytes >= 1 << 20 ? String(format: "%.1f MB", Double(bytes) / 1e6) : String(format: "%.0f KB", Double(bytes) / 1e3)
}
