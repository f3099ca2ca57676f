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
    public var finalAccuracy: Double?
    /// Test-split accuracy at the end, if evaluated.
    public var testAccuracy: Double?
    /// The last checkpoint directory.
    public var checkpoint: String?
    /// True when `stop()` (or the time limit) ended the run early.
    public var stoppedEarly: Bool
}

extension Learner {
    /// Trains for `run.iterations` iterations (or until `stop()` / `run.max_minutes`), then checkpoints.
    public func run() throws -> LearnerResult {
        let cfg = settings.run, log = settings.log
        let metrics = try RunMetrics(directory: cfg.runDirectory)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var version: UInt64 = 0
        var sha = try publish(version: version)
        var result = LearnerResult(iterations: 0, policyVersion: 0, stoppedEarly: false)
        if cfg.eval.every > 0 {
            let acc = try task.evaluate(model, on: validation)
            result.initialAccuracy = acc
            try metrics.record(iteration: 0, time: elapsed(), metrics: [MetricName.heldOutAccuracy: acc])
            log(String(format: "learner: held-out accuracy before training %.1f%% (%d validation prompts)", acc * 100, validation.count))
        }
        let heldOut = Set((validation + test).map(\.prompt))
        var nextUnitID: UInt64 = 1
        for iteration in 1...max(1, cfg.run.iterations) where cfg.run.iterations > 0 {
            if shouldStop(elapsed: elapsed()) { result.stoppedEarly = true; break }
            let t0 = elapsed()
            let prompts = try drawPrompts(iteration: iteration, excluding: heldOut)
            let ledger = try WorkLedger(iteration: UInt64(iteration), prompts: prompts, unitSize: settings.unitPrompts,
                                        samplesPerPrompt: cfg.algorithm.samplesPerPrompt, sampling: settings.sampling,
                                        leaseMillis: Millis(cfg.cluster.leaseSeconds * 1000),
                                        minPolicyVersion: version, firstUnitID: nextUnitID)
            let assembler = try BatchAssembler(
                iteration: UInt64(iteration), promptOrder: prompts.map(\.id),
                config: .init(samplesPerPrompt: cfg.algorithm.samplesPerPrompt, maxResponseTokens: cfg.sampling.maxNewTokens,
                              requireRefLogprobs: cfg.kl.coef > 0, policyVersion: version, maxStaleness: 0))
            hub.begin(try IterationCollector(ledger: ledger, assembler: assembler))
            guard let gathered = hub.waitForBatch(shouldStop: { shouldStop(elapsed: elapsed()) }) else {
                result.stoppedEarly = true
                break
            }
            let (batch, collector) = gathered
            nextUnitID = collector.ledger.nextUnitID
            let t1 = elapsed()
            let report = try PolicyUpdate.run(model: model, optimizer: optimizer, batch: batch, rl: settings.rl,
                                              sizes: settings.batch, temperature: Float(cfg.sampling.temperature),
                                              klCoef: klController.value)
            klController.update(currentKL: report.stats.klPerSample.mean, steps: batch.count)
            version += 1
            let t2 = elapsed()
            sha = try publish(version: version)
            let t3 = elapsed()
            var m: [String: Double] = [
                MetricName.rewardMean: report.stats.reward.mean, MetricName.klPerToken: report.stats.klPerToken.mean,
                MetricName.responseLength: report.stats.responseLength.mean,
                "perf/samples_per_s": Double(batch.count) / max(t1 - t0, 1e-9), "perf/rollout_s": t1 - t0,
                "perf/train_s": t2 - t1, "perf/broadcast_s": t3 - t2, "train/clip_fraction": report.policy.clipFraction,
                "train/approx_kl": report.policy.approxKL, "train/loss": report.loss, "train/grad_norm": report.gradNorm,
                "train/kl_coef": klController.value, "policy/version": Double(version),
                "cluster/workers_alive": Double(hub.workersAlive),
                "cluster/reissued_units": Double(collector.ledger.counters.reissued),
                "cluster/dropped_samples": Double(collector.assembler.counters.droppedSamples
                                                  + collector.assembler.counters.staleSamples),
                "broadcast/bytes": Double(model.parameterCount * 4),
            ]
            var line = String(format: "iter %d/%d reward %.3f", iteration, cfg.run.iterations, report.stats.reward.mean)
            let last = iteration == cfg.run.iterations
            if cfg.eval.every > 0 && (iteration % cfg.eval.every == 0 || last) {
                let acc = try task.evaluate(model, on: validation)
                m[MetricName.heldOutAccuracy] = acc
                result.finalAccuracy = acc
                line += String(format: " acc %.1f%%", acc * 100)
            }
            line += String(format: " kl %.4f len %.2f samples/s %.0f clip %.3f v%d workers %d (rollout %.2fs train %.2fs sync %.2fs)",
                           report.stats.klPerToken.mean, report.stats.responseLength.mean, m["perf/samples_per_s"]!,
                           report.policy.clipFraction, version, hub.workersAlive, t1 - t0, t2 - t1, t3 - t2)
            try metrics.record(iteration: iteration, time: elapsed(), metrics: m)
            log(line)
            result.iterations = iteration
            result.policyVersion = version
            if cfg.checkpoint.every > 0 && iteration % cfg.checkpoint.every == 0 && !last {
                result.checkpoint = try saveCheckpoint(iteration: iteration, version: version)
            }
            onIteration?(IterationSummary(iteration: iteration, policyVersion: version, samples: batch.count,
                                          sampleVersions: batch.experiences.map(\.rollout.policyVersion),
                                          workers: Set(batch.experiences.map(\.rollout.workerID)), metrics: m,
                                          weightsSHA256: sha))
        }
        if cfg.eval.every > 0 && result.iterations > 0 {
            result.testAccuracy = try task.evaluate(model, on: test)
            log(String(format: "learner: test accuracy %.1f%% (%d prompts)", result.testAccuracy! * 100, test.count))
        }
        result.checkpoint = try saveCheckpoint(iteration: result.iterations, version: version)
        try metrics.writeChart()
        log("learner: checkpoint \(result.checkpoint!); metrics in \(metrics.directory)")
        return result
    }

    private func shouldStop(elapsed: Double) -> Bool {
        let limit = settings.run.run.maxMinutes
        return isStopping || (limit > 0 && elapsed > limit * 60)
    }

    /// Fresh problems for `iteration` (seeded by run seed and iteration), none of them held out.
    func drawPrompts(iteration: Int, excluding heldOut: Set<String>) throws -> [Prompt] {
        let n = settings.run.algorithm.rolloutBatch
        var rng = Xoshiro256(seed: UInt64(settings.run.run.seed) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(iteration))
        var out: [Prompt] = []
        while out.count < n {
            let p = task.draw(&rng)
            if heldOut.contains(p.prompt) { continue }
            out.append(Prompt(id: UInt64(iteration) * 1_000_000 + UInt64(out.count), tokens: try task.promptTokens(p),
                              answer: p.answer))
        }
        return out
    }

    /// Saves policy + optimiser state to `run/checkpoints/iter-NNNNNN` and prunes beyond `checkpoint.keep`.
    func saveCheckpoint(iteration: Int, version: UInt64) throws -> String {
        let root = URL(fileURLWithPath: settings.run.runDirectory).appendingPathComponent("checkpoints")
        let dir = root.appendingPathComponent(String(format: "iter-%06d", iteration))
        try model.save(directory: dir)
        try model.saveTrainingState(optimizer, extra: ["iteration": "\(iteration)", "policy_version": "\(version)",
                                                       "kl_coef": "\(klController.value)"], directory: dir)
        let fm = FileManager.default
        let all = ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix("iter-") }.sorted()
        for old in all.dropLast(max(1, settings.run.checkpoint.keep)) {
            try? fm.removeItem(at: root.appendingPathComponent(old))
        }
        return dir.path
    }
}
