// What `rpp bench run` measures for one algorithm, from the learner's metrics.jsonl (per-iteration perf/*
// keys and the `time` of each record) after the warm-up iterations, and the table and ratios it prints.
import Foundation
import RunKit

/// The means of one algorithm's measured iterations.
struct BenchRunResult {
    /// algorithm.estimator.
    let estimator: String
    /// Iterations measured (after warm-up).
    let measured: Int
    /// Samples per iteration.
    let samples: Double
    /// Generation throughput: samples / rollout seconds (the learner waits for the whole batch).
    let rolloutSamplesPerSecond: Double
    /// End-to-end throughput: samples / whole-iteration seconds.
    let samplesPerSecond: Double
    /// Mean seconds waiting for the rollout batch (generation, scoring, reference log-probs).
    let rolloutSeconds: Double
    /// Mean seconds of the update (advantages, optimiser steps; the critic too for PPO).
    let updateSeconds: Double
    /// Mean seconds of the weight broadcast.
    let broadcastSeconds: Double
    /// Mean wall seconds between consecutive iteration records (the whole iteration).
    let iterationSeconds: Double
    /// The learner's peak resident set (wait4 ru_maxrss), MiB.
    let learnerPeakMB: Double
    /// Of the update, the mean seconds of the critic's V_old and of its optimiser steps (PPO only).
    let criticSeconds: (values: Double, train: Double)?

    /// Means over records `warmup + 1 ... iterations` (warmup >= 1); throws naming `file` when a record or key is missing.
    init(estimator: String, records: [MetricsRecord], warmup: Int, iterations: Int, learnerPeakMB: Double, file: String)
        throws
    {
        let byIteration = Dictionary(records.map { ($0.iteration, $0) }, uniquingKeysWith: { $1 })
        let measuredRange = (warmup + 1)...iterations
        func record(_ i: Int) throws -> MetricsRecord {
            guard let r = byIteration[i] else { throw BenchRunError("\(file): no record of iteration \(i)") }
            return r
        }
        func mean(_ key: String) throws -> Double {
            var sum = 0.0
            for i in measuredRange {
                guard let v = try record(i).metrics[key], v.isFinite else {
                    throw BenchRunError("\(file): iteration \(i) has no finite \(key)")
                }
                sum += v
            }
            return sum / Double(measuredRange.count)
        }
        self.estimator = estimator
        measured = measuredRange.count
        samples = try mean(MetricName.samples)
        rolloutSeconds = try mean(MetricName.rolloutSeconds)
        updateSeconds = try mean(MetricName.trainSeconds)
        broadcastSeconds = try mean(MetricName.broadcastSeconds)
        rolloutSamplesPerSecond = samples / max(rolloutSeconds, 1e-9)
        // The whole iteration: the wall time between the record of the last warm-up iteration and the last one.
        iterationSeconds = (try record(iterations).time - record(warmup).time) / Double(measured)
        samplesPerSecond = samples / max(iterationSeconds, 1e-9)
        self.learnerPeakMB = learnerPeakMB
        let hasCritic = try record(iterations).metrics[MetricName.criticTrainSeconds] != nil
        criticSeconds =
            hasCritic ? (try mean(MetricName.criticValuesSeconds), try mean(MetricName.criticTrainSeconds)) : nil
    }

    /// The comparison table, one row per algorithm.
    static func table(_ results: [BenchRunResult]) -> String {
        let header = [
            "algorithm", "samples/s", "gen samples/s", "iteration s", "rollout s", "update s", "broadcast ms",
            "learner peak MB",
        ]
        var lines = [row(header)]
        for r in results {
            lines.append(
                row([
                    r.estimator, f(r.samplesPerSecond, 0), f(r.rolloutSamplesPerSecond, 0), f(r.iterationSeconds, 3),
                    f(r.rolloutSeconds, 3), f(r.updateSeconds, 3), f(r.broadcastSeconds * 1000, 2),
                    f(r.learnerPeakMB, 0),
                ]))
        }
        for r in results {
            guard let c = r.criticSeconds else { continue }
            lines.append(
                String(
                    format: "%@ update: critic V_old %.3f s, critic steps %.3f s, policy and the rest %.3f s",
                    r.estimator, c.values, c.train, r.updateSeconds - c.values - c.train))
        }
        lines.append(
            "samples/s = samples per iteration / wall seconds per iteration (end to end); gen samples/s = samples / "
                + "rollout seconds; update = advantages + optimiser steps (+ critic values and steps for gae, PPO); "
                + "means over \(results.first?.measured ?? 0) iterations after warm-up")
        return lines.joined(separator: "\n")
    }

    /// REINFORCE++ against PPO as ratios.
    static func ratios(reinforce r: BenchRunResult, ppo p: BenchRunResult) -> String {
        [
            String(
                format: "REINFORCE++ / PPO end-to-end samples/s: %.2fx",
                r.samplesPerSecond / p.samplesPerSecond),
            String(
                format: "PPO / REINFORCE++ learner update time per iteration: %.2fx (%.3f s vs %.3f s)",
                p.updateSeconds / r.updateSeconds, p.updateSeconds, r.updateSeconds),
            String(
                format: "PPO / REINFORCE++ learner peak memory: %.2fx (%.0f MB vs %.0f MB)",
                p.learnerPeakMB / r.learnerPeakMB, p.learnerPeakMB, r.learnerPeakMB),
        ].joined(separator: "\n")
    }

    private static func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
    private static func row(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in
            i == 0
                ? c.padding(toLength: 12, withPad: " ", startingAt: 0)
                : String(repeating: " ", count: max(0, 16 - c.count)) + c
        }.joined()
    }
}
