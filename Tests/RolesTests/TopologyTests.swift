// The whole cluster in one process over inproc:// sockets: a learner, two rollout workers, a reward server
// (arithmetic exact match) and a reference server, with a tiny random policy; three iterations of a small batch.
import Foundation
import Model
import RLCore
import RunKit
import Tasks
import TestKit
import Wire
import XCTest

@testable import Roles

final class TopologyTests: XCTestCase {
    static let modelConfig = ModelConfig(
        hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4,
        vocabSize: 16, maxPositionEmbeddings: 32)

    func smallConfig(dir: String, estimator: AdvantageEstimator = .reinforce) -> RunConfig {
        var c = RunConfig()
        c.run.dir = dir
        c.run.name = "topology"
        c.run.iterations = 3
        c.run.maxMinutes = 0
        c.algorithm.estimator = estimator
        c.algorithm.rolloutBatch = 8
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 16
        c.algorithm.microBatch = 8
        c.eval.every = 2
        c.eval.prompts = 16
        c.checkpoint.every = 2
        c.checkpoint.keep = 2
        c.cluster.leaseSeconds = 10
        c.cluster.heartbeatSeconds = 0.2
        c.cluster.requestTimeoutSeconds = 10
        c.optim.lr = 1e-3
        return c
    }

    func testLearnerTwoWorkersRewardAndReferenceInOneProcess() throws {
        let name = "topo-\(UUID().uuidString.prefix(8))"
        try runTopology(
            endpoints: .inproc(name), reward: "inproc://\(name)-reward",
            reference: "inproc://\(name)-reference", model: Self.modelConfig, chunkElements: 4096)
    }

    /// The same over tcp loopback with the pilot's model size (857k parameters, four 1 MiB chunks per
    /// version), where the weights BUS drops frames a busy subscriber pipe cannot take: receipts and re-sends must cope.
    func testOverTCPWithPilotSizedModel() throws {
        let base = LoopbackPorts.block(7)
        var model = ModelConfig.arithPolicy
        model.maxPositionEmbeddings = 32
        try runTopology(
            endpoints: LearnerEndpoints(
                control: "tcp://127.0.0.1:\(base)", weights: "tcp://127.0.0.1:\(base + 1)",
                rollouts: "tcp://127.0.0.1:\(base + 3)"),
            reward: "tcp://127.0.0.1:\(base + 5)", reference: "tcp://127.0.0.1:\(base + 6)", model: model,
            chunkElements: WeightPublisher.defaultChunkElements)
    }

    /// With the cluster key and encryption on: every socket signs, stamps and encrypts, every receiver checks the
    /// replay window, and the run ends with the learner's exact weights on the workers, over tcp.
    func testEncryptedClusterOverTCP() throws {
        let base = LoopbackPorts.block(7)
        let key = try ClusterKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        let endpoints = LearnerEndpoints(
            control: "tcp://127.0.0.1:\(base)", weights: "tcp://127.0.0.1:\(base + 1)",
            rollouts: "tcp://127.0.0.1:\(base + 3)")
        try runTopology(
            endpoints: endpoints, reward: "tcp://127.0.0.1:\(base + 5)",
            reference: "tcp://127.0.0.1:\(base + 6)", model: Self.modelConfig, chunkElements: 4096,
            codec: FrameCodec(key: key, encrypt: true))
    }

    /// max_staleness 1: the next iteration's rollouts run while the learner updates; samples lag at most one
    /// version, their logp_old is recomputed and the tis correction weighs them.
    func testOverlappingRolloutsWithinTheStalenessBound() throws {
        let name = "stale-\(UUID().uuidString.prefix(8))"
        try runTopology(
            endpoints: .inproc(name), reward: "inproc://\(name)-reward",
            reference: "inproc://\(name)-reference", model: Self.modelConfig, chunkElements: 4096,
            configure: {
                $0.algorithm.maxStaleness = 1
                $0.algorithm.offPolicyCorrection = .tis
                // The toy policy earns no reward yet, and with tis logp_old is the learner's own, which the reference
                // (the same weights) matches exactly: the entropy bonus gives the update something to do.
                $0.algorithm.entropyCoef = 0.01
            })
    }

    /// PPO: the critic lives in the learner and is trained with it; its metrics are recorded and it is checkpointed.
    func testPPOInOneProcess() throws {
        let name = "topo-ppo-\(UUID().uuidString.prefix(8))"
        try runTopology(
            endpoints: .inproc(name), reward: "inproc://\(name)-reward",
            reference: "inproc://\(name)-reference", model: Self.modelConfig, chunkElements: 4096,
            configure: { $0.algorithm.estimator = .gae })
    }

    func runTopology(
        endpoints: LearnerEndpoints, reward rewardAddress: String, reference referenceAddress: String,
        model modelConfig: ModelConfig, chunkElements: Int, codec: FrameCodec = FrameCodec(),
        configure: (inout RunConfig) -> Void = { _ in }
    ) throws {
        let dir = try temporaryDirectory("rpp-topology").path
        var config = smallConfig(dir: dir)
        configure(&config)
        let staleness = UInt64(config.algorithm.maxStaleness)
        let logLines = LockedList<String>()
        let log: @Sendable (String) -> Void = { logLines.append($0) }

        let policy = try Transformer(config: modelConfig)
        policy.initializeWeights(seed: 1)
        let reference = try Transformer(config: modelConfig)
        reference.params.copy(from: policy.params)
        let verifier = ArithExactMatch()
        let rewardServer = try RequestServer(
            name: "reward", address: rewardAddress, codec: codec,
            handler: RewardService(name: "arith", score: { verifier.reward($0) }).handle)
        let referenceServer = try RequestServer(
            name: "reference", address: referenceAddress, codec: codec,
            handler: ReferenceService(model: reference).handle)
        rewardServer.start()
        referenceServer.start()

        var settings = try LearnerSettings(config: config, endpoints: endpoints)
        settings.unitPrompts = 2
        settings.chunkElements = chunkElements
        settings.log = log
        let learner = try Learner(settings: settings, model: policy, task: try toyTask(settings.run), codec: codec)
        let summaries = LockedList<IterationSummary>()
        learner.onIteration = { summaries.append($0) }

        let threads = try WorkerThreads(
            count: 2, learner: endpoints, reward: rewardAddress, reference: referenceAddress,
            model: modelConfig, codec: codec, log: log)
        defer { threads.stopAll() }
        let workers = threads.workers

        let start = Date()
        let result = try learner.run()
        let seconds = Date().timeIntervalSince(start)
        print(
            String(
                format: "topology: %d iterations in %.2f s (%.2f s/iteration)", result.iterations, seconds,
                seconds / Double(max(1, result.iterations))))

        // Workers pick up the final broadcast while they poll for work.
        let final = summaries.items.last!
        let deadline = Date(timeIntervalSinceNow: 10)
        while Date() < deadline && workers.contains(where: { $0.policyVersion != final.policyVersion }) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        for w in workers {
            XCTAssertEqual(w.policyVersion, final.policyVersion, "\(w.settings.workerID) has the final version")
            XCTAssertEqual(
                WeightDigest.sha256(w.model.params.toArray()), final.weightsSHA256,
                "\(w.settings.workerID) samples with exactly the learner's weights")
        }
        XCTAssertEqual(WeightDigest.sha256(policy.params.toArray()), final.weightsSHA256)
        threads.stopAll()
        learner.close()
        rewardServer.stop()
        referenceServer.stop()

        XCTAssertEqual(result.iterations, 3, logLines.items.joined(separator: "\n"))
        XCTAssertEqual(result.policyVersion, 3)
        XCTAssertFalse(result.stoppedEarly)
        let items = summaries.items
        XCTAssertEqual(items.map(\.iteration), [1, 2, 3])
        XCTAssertEqual(items.map(\.policyVersion), [1, 2, 3], "the version advances once per iteration")
        for s in items {
            XCTAssertEqual(s.samples, 8 * 4, "rollout_batch × n samples")
            if staleness == 0 {
                XCTAssertEqual(
                    s.sampleVersions, Array(repeating: s.policyVersion - 1, count: 32),
                    "every sample carries the version that generated it (on-policy)")
            } else {
                XCTAssertTrue(
                    s.sampleVersions.allSatisfy { $0 + 1 + staleness >= s.policyVersion && $0 < s.policyVersion },
                    "samples lag the updated policy by at most max_staleness: \(s.sampleVersions)")
                XCTAssertEqual(
                    s.metrics[MetricName.staleSamplesUsed],
                    Double(s.sampleVersions.filter { $0 + 1 < s.policyVersion }.count))
            }
            XCTAssertEqual(s.metrics[MetricName.workersAlive], 2)
            XCTAssertNotNil(s.metrics[MetricName.rewardMean])
            // Iteration 1 samples the reference policy itself: k1 is 0 up to the rounding of decode against the
            // reference server's full forward, which shows that the two log-probs line up token for token. Later the
            // mean of k1 over 32 samples is an estimate of a small KL and may fall either side of 0 (the estimator's
            // sign is checked on hand-derived cases in RLCoreTests), so only its size is bounded.
            let kl = s.metrics[MetricName.klPerToken]!
            print(String(format: "topology: iteration %d KL per token %.3g", s.iteration, kl))
            if s.iteration == 1 { XCTAssertEqual(kl, 0, accuracy: 1e-5) } else { XCTAssertLessThan(abs(kl), 0.5) }
        }
        XCTAssertEqual(Set(items.flatMap(\.workers)), ["w0", "w1"], "both workers contributed")
        XCTAssertTrue(
            logLines.items.contains {
                $0.hasPrefix("w0: weights version 2 verified: ") && $0.contains("KB on the wire in")
            },
            "workers log each version's bytes and sync time")
        XCTAssertNotNil(items[1].metrics[MetricName.heldOutAccuracy], "evaluated every 2 iterations")
        XCTAssertNotNil(items[2].metrics[MetricName.heldOutAccuracy], "and at the end")
        XCTAssertNotEqual(items[0].weightsSHA256, items[1].weightsSHA256, "the update changed the weights")

        let runDir = config.runDirectory
        let records = try MetricsJSONL.read(path: runDir + "/metrics.jsonl")
        XCTAssertEqual(records.map(\.iteration), [0, 1, 2, 3])
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir + "/chart.svg"))
        let checkpoint = try XCTUnwrap(result.checkpoint)
        XCTAssertTrue(checkpoint.hasSuffix("iter-000003"))
        let reloaded = try Transformer.load(directory: URL(fileURLWithPath: checkpoint))
        XCTAssertEqual(WeightDigest.sha256(reloaded.params.toArray()), final.weightsSHA256)
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint + "/optimizer.safetensors"))
        let kept = try FileManager.default.contentsOfDirectory(atPath: runDir + "/checkpoints").sorted()
        XCTAssertEqual(kept, ["iter-000002", "iter-000003"])
        let ppo = config.algorithm.estimator == .gae
        XCTAssertEqual(items.allSatisfy { $0.metrics[MetricName.criticValueLoss]?.isFinite ?? false }, ppo)
        XCTAssertEqual(FileManager.default.fileExists(atPath: checkpoint + "/critic/model.safetensors"), ppo)
    }
}

/// An array appended to from several threads.
final class LockedList<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [T] = []
    func append(_ v: T) { lock.withLock { values.append(v) } }
    var items: [T] { lock.withLock { values } }
}
