// Durations of any size (settings built in code bypass config validation) become milliseconds without a trap.
import Foundation
import Model
import RunKit
import Tasks
import TestKit
import Wire
import XCTest

@testable import Roles

final class SecondsTests: XCTestCase {
    func testConversionsSaturateInsteadOfTrapping() {
        XCTAssertEqual(leaseMillis(seconds: 1e300), UInt32.max)
        XCTAssertEqual(leaseMillis(seconds: .infinity), UInt32.max)
        XCTAssertEqual(leaseMillis(seconds: .nan), 1)
        XCTAssertEqual(leaseMillis(seconds: -5), 1)
        XCTAssertEqual(leaseMillis(seconds: 0.0001), 1)
        XCTAssertEqual(leaseMillis(seconds: 60), 60_000)
        XCTAssertEqual(millis(seconds: 1e300), Millis(UInt32.max))
        XCTAssertEqual(duration(seconds: 1e300), .milliseconds(Int64(UInt32.max)))
    }

    /// A learner and a worker made with timeouts of 1e300 s start and stop (they trapped in a conversion).
    func testLearnerAndWorkerTakeHugeTimeouts() throws {
        let dir = try temporaryDirectory("rpp-seconds").path
        var config = RunConfig()
        config.run.dir = dir
        config.algorithm.rolloutBatch = 8
        config.algorithm.trainBatch = 16
        config.algorithm.microBatch = 16
        config.cluster.leaseSeconds = 1e300
        config.cluster.heartbeatSeconds = 1e300
        config.cluster.requestTimeoutSeconds = 1e300
        let endpoints = LearnerEndpoints.inproc("seconds-\(UUID().uuidString)")
        var settings = try LearnerSettings(config: config, endpoints: endpoints)
        settings.log = { _ in }
        let modelConfig = ModelConfig(
            hiddenSize: 8, intermediateSize: 12, numLayers: 1, numHeads: 2, vocabSize: 16,
            maxPositionEmbeddings: 32)
        let learner = try Learner(
            settings: settings, model: try Transformer(config: modelConfig),
            task: try toyTask(settings.run), codec: FrameCodec())
        learner.close()
        var worker = RolloutSettings(
            workerID: "w", learner: endpoints, reward: ["inproc://seconds-reward"],
            reference: [], useReference: false)
        worker.heartbeatSeconds = 1e300
        worker.requestTimeoutSeconds = 1e300
        worker.log = { _ in }
        let rollout = try RolloutWorker(
            settings: worker, model: try Transformer(config: modelConfig),
            codec: FrameCodec())
        XCTAssertEqual(rollout.requestTimeout, .milliseconds(Int64(UInt32.max)))
        rollout.close()
    }
}
