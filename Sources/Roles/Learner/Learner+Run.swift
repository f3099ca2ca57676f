// The learner's main loop: the shell that carries out LearnerLoop's decisions (evaluate, publish, hand out
// work, wait for the batch, update, record, checkpoint), and the run directory's start and checkpoints.
import Foundation
import Model
import RLCore
import RunKit
import Wire

extension Learner {
    /// Trains for `run.iterations` iterations (or until `stop()` / `run.max_minutes`), then checkpoints.
    /// With `resume`, starts from the newest checkpoint of the run directory. The schedule is the
    /// `LearnerLoop`'s; this method carries out its decisions.
    public func run() throws -> LearnerResult {
        let cfg = settings.run
        let log = settings.log
        try prepareStart()
        log(
            "learner: task \(task.summary); responses stop at token(s) "
                + stopTokens.map(String.init).joined(separator: ", "))
        let metrics = try RunMetrics(directory: cfg.runDirectory, resume: settings.resume)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        hub.maxStaleness = UInt64(cfg.algorithm.maxStaleness)
        var loop = LearnerLoop(
            plan: .init(
                iterations: cfg.run.iterations, evaluateEvery: cfg.eval.every, hasValidation: !validation.isEmpty,
                hasTest: !test.isEmpty, checkpointEvery: cfg.checkpoint.every,
                overlap: cfg.algorithm.maxStaleness > 0, maxSeconds: cfg.run.maxMinutes * 60),
            iteration: trainer.iteration, policyVersion: trainer.version)
        var step: (batch: RolloutBatch, collector: IterationCollector, report: UpdateReport?)?
        var decision = loop.next(after: .started, now: elapsed(), stopRequested: isStopping)
        func next(_ event: LearnerLoop.Event) {
            decision = loop.next(after: event, now: elapsed(), stopRequested: isStopping)
        }
        while true {
            switch decision {
            case .evaluate(let which):
                let accuracy = try evaluate(which, metrics: metrics, elapsed: elapsed())
                next(.evaluated(accuracy: accuracy))
            case .publish(let version):
                precondition(
                    version == trainer.version, "the loop publishes v\(version), the trainer has v\(trainer.version)")
                try publish(version: version)
                next(.published)
            case .begin(let iteration):
                try begin(iteration: iteration)
                next(.begun)
            case .collect:
                let waited = hub.waitForBatch(shouldStop: { loop.mustStop(now: elapsed(), requested: isStopping) })
                guard let (batch, collector) = waited else {
                    if let why = hub.workersFailed { throw RolesError(.workersFailed, why) }
                    next(.collectionStopped)
                    continue
                }
                trainer.nextUnitID = collector.ledger.nextUnitID
                step = (batch, collector, nil)
                next(.collected)
            case .update:
                guard let batch = step?.batch else { preconditionFailure("update without a batch") }
                try recordBatch?(batch, trainer)
                step?.report = try trainer.update(batch)
                next(.updated)
            case .record(let iteration, let times):
                guard case (let batch, let collector, let report?)? = step else {
                    preconditionFailure("record without an update")
                }
                let record = iterationRecord(
                    iteration, of: loop, times: times, batch: batch, collector: collector, report: report)
                try metrics.record(iteration: iteration, time: elapsed(), metrics: record.metrics)
                log(record.progressLine)
                onIteration?(
                    IterationSummary(
                        iteration: iteration, policyVersion: trainer.version, samples: batch.count,
                        sampleVersions: batch.experiences.map(\.rollout.policyVersion),
                        workers: Set(batch.experiences.map(\.rollout.workerID)), metrics: record.metrics,
                        weightsSHA256: publishedSHA256))
                step = nil
                next(.recorded)
            case .checkpoint:
                _ = try saveCheckpoint()
                next(.checkpointed)
            case .finish:
                for line in beforeAndAfterLines() { log(line) }
                var result = loop.result
                let checkpoint = try saveCheckpoint()
                result.checkpoint = checkpoint
                try metrics.writeChart()
                log(
                    "learner: checkpoint \(checkpoint) (weights sha256 \(WeightDigest.hex(publishedSHA256))); metrics in "
                        + metrics.directory)
                return result
            }
        }
    }

    /// Runs one of the loop's evaluations, logs and records what it shows, and returns its accuracy.
    private func evaluate(_ which: LearnerLoop.Evaluation, metrics: RunMetrics, elapsed: Double) throws -> Double {
        switch which {
        case .beforeTraining:
            let acc = try evaluate(validation, split: "validation", iteration: 0, metrics: metrics).accuracy
            try metrics.record(iteration: 0, time: elapsed, metrics: [MetricName.heldOutAccuracy: acc])
            settings.log(
                String(
                    format: "learner: held-out accuracy before training %.1f%% (%d validation prompts)", acc * 100,
                    validation.count)
                    + (lastSample.map { "; e.g. " + $0.shortLine() } ?? ""))
            return acc
        case .validation(let iteration):
            return try evaluate(validation, split: "validation", iteration: iteration, metrics: metrics).accuracy
        case .test(let iteration):
            let acc = try evaluate(test, split: "test", iteration: iteration, metrics: metrics).accuracy
            settings.log(String(format: "learner: test accuracy %.1f%% (%d prompts)", acc * 100, test.count))
            return acc
        }
    }

    /// The record of `iteration`: the update's report, the loop's accuracy, the collector's and hub's counters,
    /// the broadcast of the new version.
    private func iterationRecord(
        _ iteration: Int, of loop: LearnerLoop, times: IterationTimes, batch: RolloutBatch,
        collector: IterationCollector, report: UpdateReport
    ) -> IterationRecord {
        var r = IterationRecord(
            iteration: iteration, iterations: loop.plan.iterations, policyVersion: loop.policyVersion,
            samples: batch.count, rewardMean: report.stats.reward.mean, klPerToken: report.stats.klPerToken.mean,
            responseLength: report.stats.responseLength.mean, clipFraction: report.policy.clipFraction,
            approxKL: report.policy.approxKL, loss: report.loss, gradNorm: report.gradNorm,
            klCoef: trainer.klCoef, times: times)
        r.logprobAbsDiff = report.logprobAbsDiff
        r.extra = report.extraMetrics ?? [:]
        r.accuracy = loop.accuracy
        r.sample = loop.accuracy == nil ? nil : lastSample
        r.workersAlive = hub.workersAlive
        r.reissuedUnits = collector.ledger.counters.reissued
        r.duplicateDeliveries = collector.ledger.counters.duplicatesDropped
        r.droppedSamples = collector.assembler.counters.droppedSamples
        r.staleDroppedSamples = collector.assembler.counters.staleSamples
        r.staleSamplesUsed = report.staleSamples
        let sync = broadcaster.lastBroadcast.flatMap { $0.version == loop.policyVersion ? $0 : nil }
        r.broadcastBytes = sync?.wireBytes ?? 0
        r.broadcastShared = sync?.shared ?? false
        r.rawBytes = model.parameterCount * 4
        r.broadcastSeconds = sync?.seconds
        r.peakRSSMegabytes = peakResidentMegabytes()
        return r
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
