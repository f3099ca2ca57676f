// A whole cluster in one process over inproc:// sockets (learner, two rollout workers, an arithmetic reward
// server and a reference server) whose learner records what it consumes. It makes the committed recording
// under Tests/Fixtures/recording (`make recording-fixture`) and the recordings the replay tests compare with.
import Foundation
import Model
import RunKit
import Tasks
import Wire

@testable import Roles

enum RecordedCluster {
    /// The tiny policy of the recording fixture (hidden 32, 2 layers, 21k parameters).
    static let modelConfig = ModelConfig(
        hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4,
        vocabSize: 16, maxPositionEmbeddings: 32)

    /// Three iterations of 8 prompts × 4 samples, two AdamW steps each, KL against the reference.
    static func config(runDirectory: String, iterations: Int = 3) -> RunConfig {
        var c = RunConfig()
        c.run.dir = runDirectory
        c.run.name = "recorded"
        c.run.iterations = iterations
        c.run.maxMinutes = 0
        c.algorithm.rolloutBatch = 8
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 16
        c.algorithm.microBatch = 8
        c.eval.every = 0
        c.eval.prompts = 16
        c.checkpoint.every = 0
        c.cluster.leaseSeconds = 10
        c.cluster.heartbeatSeconds = 0.2
        c.cluster.requestTimeoutSeconds = 10
        c.optim.lr = 1e-3
        return c
    }

    /// Runs `config` with the tiny policy (weights from `seed`, or the run directory's newest checkpoint with
    /// `resume`) and records into `record`; returns the learner's result and the SHA-256 `Recorder.finish` wrote
    /// into final.json.
    static func run(config: RunConfig, record: URL, resume: Bool = false, seed: UInt64 = 1) throws -> (
        LearnerResult, [UInt8]
    ) {
        let name = "recorded-\(UUID().uuidString.prefix(8))"
        let endpoints = LearnerEndpoints.inproc(name)
        let rewardAddress = "inproc://\(name)-reward"
        let referenceAddress = "inproc://\(name)-reference"
        let codec = FrameCodec()
        let log: @Sendable (String) -> Void = { print($0) }

        let policy = try Transformer(config: modelConfig)
        policy.initializeWeights(seed: seed)
        let reference = try Transformer(config: modelConfig)
        reference.params.copy(from: policy.params)
        // Exact match, plus 0.5 for a response that stops with EOS: a random tiny policy never gets a sum right,
        // but it does stop sometimes, so the rewards vary and the updates move the weights.
        let verifier = ArithExactMatch()
        let eos = CharTokenizer().eosId
        let rewardServer = try RequestServer(
            name: "reward", address: rewardAddress, codec: codec,
            handler: RewardService(
                name: "arith+stop",
                score: { item in
                    verifier.reward(item) + (item.responseTokens.last == eos ? 0.5 : 0)
                }
            ).handle)
        let referenceServer = try RequestServer(
            name: "reference", address: referenceAddress, codec: codec,
            handler: ReferenceService(model: reference).handle)
        rewardServer.start()
        referenceServer.start()
        defer {
            rewardServer.stop()
            referenceServer.stop()
        }

        var settings = try LearnerSettings(config: config, endpoints: endpoints)
        settings.unitPrompts = 2
        settings.chunkElements = 4096
        settings.log = log
        settings.resume = resume
        let recorder = try Recorder(directory: record, config: config)
        let learner = try Learner(settings: settings, model: policy, task: try toyTask(settings.run), codec: codec)
        recorder.attach(to: learner)

        let workers = try WorkerThreads(
            count: 2, learner: endpoints, reward: rewardAddress, reference: referenceAddress,
            model: modelConfig, codec: codec, log: log)
        let result: LearnerResult
        do { result = try learner.run() } catch {
            workers.stopAll()
            learner.close()
            throw error
        }
        workers.stopAll()
        learner.close()
        let sha = try recorder.finish(trainer: learner.trainer, stoppedEarly: result.stoppedEarly)
        return (result, sha)
    }
}
