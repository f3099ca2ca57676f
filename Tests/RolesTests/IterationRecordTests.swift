import RunKit
import XCTest

// IterationRecord: one record renders the metrics row and the progress line with the same numbers.
@testable import Roles

final class IterationRecordTests: XCTestCase {
    func record(accuracy: Double? = nil) -> IterationRecord {
        var r = IterationRecord(
            iteration: 3, iterations: 20, policyVersion: 3, samples: 64, rewardMean: 0.4126, klPerToken: 0.00123,
            responseLength: 4.1, clipFraction: 0.0126, approxKL: 0.002, loss: -0.5, gradNorm: 1.5, klCoef: 0.01,
            times: IterationTimes(rollout: 0.32, train: 0.2, eval: accuracy == nil ? nil : 0.4, broadcast: 0.01))
        r.workersAlive = 2
        r.reissuedUnits = 1
        r.duplicateDeliveries = 2
        r.droppedSamples = 3
        r.staleDroppedSamples = 4
        r.staleSamplesUsed = 5
        r.broadcastBytes = 12_000
        r.rawBytes = 40_000
        r.broadcastSeconds = 0.008
        r.peakRSSMegabytes = 100
        r.accuracy = accuracy
        r.sample = EvaluationSample(prompt: "1+2=", response: "3\n", label: "3", reward: 1)
        return r
    }

    func testProgressLine() {
        XCTAssertEqual(
            record().progressLine,
            "iter 3/20 reward 0.413 kl 0.0012 len 4.10 samples/s 200 clip 0.013 v3 workers 2 "
                + "(rollout 0.32s train 0.20s sync 0.01s 12 KB)")
        var evaluated = record(accuracy: 0.35)
        evaluated.extra = [MetricName.criticValueLoss: 0.25]
        evaluated.broadcastBytes = 3 << 20
        XCTAssertEqual(
            evaluated.progressLine,
            "iter 3/20 reward 0.413 acc 35.0% kl 0.0012 len 4.10 samples/s 200 clip 0.013 v3 workers 2 "
                + "(rollout 0.32s train 0.20s sync 0.01s 3.1 MB eval 0.40s) value loss 0.2500 e.g. \"3⏎\" (3: 1)")
        var shared = record()
        shared.broadcastShared = true
        XCTAssertTrue(shared.progressLine.hasSuffix("sync 0.01s shared memory)"), shared.progressLine)
    }

    func testMetricsRow() {
        let m = record().metrics
        let want: [String: Double] = [
            MetricName.rewardMean: 0.4126, MetricName.klPerToken: 0.00123, MetricName.responseLength: 4.1,
            MetricName.samplesPerSecond: 200, MetricName.rolloutSeconds: 0.32, MetricName.trainSeconds: 0.2,
            MetricName.evalSeconds: 0, MetricName.broadcastSeconds: 0.01, MetricName.peakRSSMegabytes: 100,
            MetricName.clipFraction: 0.0126, MetricName.approxKL: 0.002, MetricName.loss: -0.5,
            MetricName.gradNorm: 1.5, MetricName.klCoef: 0.01, MetricName.policyVersion: 3,
            MetricName.workersAlive: 2, MetricName.reissuedUnits: 1, MetricName.duplicateDeliveries: 2,
            MetricName.droppedSamples: 3, MetricName.staleDroppedSamples: 4, MetricName.staleSamplesUsed: 5,
            MetricName.samples: 64, MetricName.broadcastBytes: 12_000, MetricName.broadcastRawBytes: 40_000,
            MetricName.broadcastSendSeconds: 0.008,
        ]
        XCTAssertEqual(Set(m.keys), Set(want.keys))
        for (k, v) in want { XCTAssertEqual(m[k]!, v, accuracy: 1e-12, k) }
        XCTAssertEqual(m["perf/samples_per_s"], 200, "the names stay those the docs list")

        var r = record(accuracy: 0.5)
        r.logprobAbsDiff = 0.03
        r.extra = [MetricName.criticValueLoss: 0.25]
        r.broadcastSeconds = nil
        let more = r.metrics
        XCTAssertEqual(more[MetricName.heldOutAccuracy], 0.5)
        XCTAssertEqual(more[MetricName.evalSeconds], 0.4)
        XCTAssertEqual(more[MetricName.logprobAbsDiff], 0.03)
        XCTAssertEqual(more[MetricName.criticValueLoss], 0.25)
        XCTAssertEqual(more[MetricName.broadcastSendSeconds].map { $0.isNaN }, true, "not measured: NaN")
    }
}
