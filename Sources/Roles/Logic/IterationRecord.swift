// One finished iteration as the learner reports it: a typed record that renders both the metrics row
// (metrics.jsonl and TensorBoard, through RunMetrics) and the progress line on the console, so the two always
// show the same numbers. The names of the metrics are in MetricName.
import Foundation
import RunKit

/// Everything the metrics row and the progress line of one iteration show.
public struct IterationRecord: Sendable, Equatable {
    /// Iteration number (1-based) and the run's iterations.
    public var iteration: Int, iterations: Int
    /// Policy version after the update.
    public var policyVersion: UInt64
    /// Samples in the rollout batch.
    public var samples: Int
    /// Mean reward, KL per token and response length of the batch.
    public var rewardMean: Double, klPerToken: Double, responseLength: Double
    /// Loss metrics of the update.
    public var clipFraction: Double, approxKL: Double, loss: Double, gradNorm: Double
    /// The KL coefficient β after the update.
    public var klCoef: Double
    /// Mean |learner − worker| log-prob of current-version tokens (nil without such tokens).
    public var logprobAbsDiff: Double?
    /// Further metrics of the update (the critic's, for PPO).
    public var extra: [String: Double] = [:]
    /// Validation accuracy, when the iteration had an evaluation.
    public var accuracy: Double?
    /// The first sample of that evaluation.
    public var sample: EvaluationSample?
    /// Seconds of the phases.
    public var times: IterationTimes
    /// Cluster counters: workers alive, units handed out again, duplicate deliveries, samples dropped by the
    /// assembler, stale samples dropped and stale samples trained on.
    public var workersAlive = 0, reissuedUnits = 0, duplicateDeliveries = 0
    public var droppedSamples = 0, staleDroppedSamples = 0, staleSamplesUsed = 0
    /// Bytes on the wire and float32 bytes of the published weights, and the seconds they took to send (nil
    /// when the broadcast of this version was not measured).
    public var broadcastBytes = 0, rawBytes = 0
    public var broadcastSeconds: Double?
    /// The version went to the workers through shared memory (only its announcement on the wire).
    public var broadcastShared = false
    /// Peak resident set of the learner so far, in MiB.
    public var peakRSSMegabytes = Double.nan

    /// A record with the update's numbers; the counters start at 0.
    public init(
        iteration: Int, iterations: Int, policyVersion: UInt64, samples: Int, rewardMean: Double,
        klPerToken: Double, responseLength: Double, clipFraction: Double, approxKL: Double, loss: Double,
        gradNorm: Double, klCoef: Double, times: IterationTimes
    ) {
        self.iteration = iteration
        self.iterations = iterations
        self.policyVersion = policyVersion
        self.samples = samples
        self.rewardMean = rewardMean
        self.klPerToken = klPerToken
        self.responseLength = responseLength
        self.clipFraction = clipFraction
        self.approxKL = approxKL
        self.loss = loss
        self.gradNorm = gradNorm
        self.klCoef = klCoef
        self.times = times
    }

    /// Samples per second of the rollout phase.
    public var samplesPerSecond: Double { Double(samples) / max(times.rollout, 1e-9) }

    /// The metrics row.
    public var metrics: [String: Double] {
        var m: [String: Double] = [
            MetricName.rewardMean: rewardMean, MetricName.klPerToken: klPerToken,
            MetricName.responseLength: responseLength,
            MetricName.samplesPerSecond: samplesPerSecond, MetricName.rolloutSeconds: times.rollout,
            MetricName.trainSeconds: times.train, MetricName.evalSeconds: times.eval ?? 0,
            MetricName.broadcastSeconds: times.broadcast, MetricName.peakRSSMegabytes: peakRSSMegabytes,
            MetricName.clipFraction: clipFraction, MetricName.approxKL: approxKL, MetricName.loss: loss,
            MetricName.gradNorm: gradNorm, MetricName.klCoef: klCoef,
            MetricName.policyVersion: Double(policyVersion),
            MetricName.workersAlive: Double(workersAlive), MetricName.reissuedUnits: Double(reissuedUnits),
            MetricName.duplicateDeliveries: Double(duplicateDeliveries),
            MetricName.droppedSamples: Double(droppedSamples),
            MetricName.staleDroppedSamples: Double(staleDroppedSamples),
            MetricName.staleSamplesUsed: Double(staleSamplesUsed), MetricName.samples: Double(samples),
            MetricName.broadcastBytes: Double(broadcastBytes), MetricName.broadcastRawBytes: Double(rawBytes),
            MetricName.broadcastSendSeconds: broadcastSeconds ?? .nan,
        ]
        m.merge(extra) { $1 }
        if let logprobAbsDiff { m[MetricName.logprobAbsDiff] = logprobAbsDiff }
        if let accuracy { m[MetricName.heldOutAccuracy] = accuracy }
        return m
    }

    /// The progress line, e.g. `iter 3/20 reward 0.412 acc 35.0% kl 0.0012 len 4.10 samples/s 812 clip 0.012 v3
    /// workers 2 (rollout 0.31s train 0.20s sync 0.01s 12 KB eval 0.40s) e.g. "12" (12: 1)`.
    public var progressLine: String {
        var line = String(format: "iter %d/%d reward %.3f", iteration, iterations, rewardMean)
        if let accuracy { line += String(format: " acc %.1f%%", accuracy * 100) }
        line += String(
            format: " kl %.4f len %.2f samples/s %.0f clip %.3f v%d workers %d (rollout %.2fs train %.2fs sync %.2fs ",
            klPerToken, responseLength, samplesPerSecond, clipFraction, policyVersion, workersAlive, times.rollout,
            times.train, times.broadcast)
        line += broadcastShared ? "shared memory" : Self.byteString(broadcastBytes)
        if accuracy != nil, let eval = times.eval { line += String(format: " eval %.2fs", eval) }
        line += ")"
        if let v = extra[MetricName.criticValueLoss] { line += String(format: " value loss %.4f", v) }
        if accuracy != nil, let sample { line += " e.g. " + sample.shortLine() }
        return line
    }

    /// "1.2 MB"-style size.
    static func byteString(_ bytes: Int) -> String {
        bytes >= 1 << 20
            ? String(format: "%.1f MB", Double(bytes) / 1e6) : String(format: "%.0f KB", Double(bytes) / 1e3)
    }
}

extension EvaluationSample {
    /// The progress line's view of the sample: its response shortened to one line, its label and reward.
    public func shortLine(width: Int = 60) -> String {
        let flat = response.replacingOccurrences(of: "\n", with: "⏎")
        let cut = flat.count > width ? String(flat.prefix(width)) + "…" : flat
        return "\"\(cut)\" (\(label): \(String(format: "%.2g", reward)))"
    }
}
