// The learner's update without sockets: a tiny policy trained with PolicyUpdate on its own samples learns to
// emit a rewarded token (so the gradient reaches the right positions with the right sign), for every
// supported estimator; and the run config maps onto the RL core as documented.
import Foundation
import Model
import RLCore
import RunKit
import Wire
import XCTest

@testable import Roles

final class LearnerUpdateTests: XCTestCase {
    /// Settings for 16 prompts × 4 samples, train batch 32, micro-batch 16, no KL (then `configure`), and a tiny
    /// one-layer policy initialised from `seed`.
    func tinySetup(seed: UInt64, _ configure: (inout RunConfig) -> Void = { _ in }) throws -> (
        LearnerSettings, Transformer
    ) {
        var c = RunConfig()
        c.algorithm.rolloutBatch = 16
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 32
        c.algorithm.microBatch = 16
        c.kl.coef = 0
        configure(&c)
        let settings = try LearnerSettings(config: c, endpoints: .inproc("unused"))
        let model = try Transformer(
            config: ModelConfig(
                hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 4,
                vocabSize: 16, maxPositionEmbeddings: 32))
        model.initializeWeights(seed: seed)
        return (settings, model)
    }

    func testUpdatesRaiseTheRewardOfEverySupportedEstimator() throws {
        for estimator in [AdvantageEstimator.reinforce, .reinforceBaseline, .rloo, .groupNorm, .drGRPO] {
            let (settings, model) = try tinySetup(seed: 3) { $0.algorithm.estimator = estimator }
            let opt = AdamW(model: model, schedule: LRSchedule(peak: 1e-2), clipNorm: 1)
            var rewards: [Double] = []
            for it in 0..<12 {
                let batch = try sampleBatch(model, iteration: it, prompts: 16, n: 4)
                let report = try PolicyUpdate.run(
                    model: model, optimizer: opt, batch: batch, rl: settings.rl,
                    sizes: settings.batch, temperature: 1, klCoef: 0, policyVersion: 0)
                XCTAssertEqual(report.steps, 2, "64 samples / train batch 32")
                XCTAssertTrue(report.loss.isFinite && report.gradNorm.isFinite)
                rewards.append(report.stats.reward.mean)
            }
            let first = rewards.prefix(3).reduce(0, +) / 3
            let last = rewards.suffix(3).reduce(0, +) / 3
            XCTAssertGreaterThan(last, first + 0.2, "\(estimator.rawValue): reward \(rewards)")
        }
    }

    /// Stale samples (max_staleness > 0): logp_old is the CURRENT policy's, recomputed before the first step, so
    /// with one mini-batch the first ratio is exactly 1 (no clipping, approx KL 0), while the same batch taken as
    /// fresh without a correction compares against the older behaviour log-probs; the tis weights use the behaviour
    /// log-probs.
    func testStaleSamplesGetRecomputedOldLogprobs() throws {
        let (settings, model) = try tinySetup(seed: 5) {
            $0.algorithm.trainBatch = 64
            $0.algorithm.offPolicyCorrection = .tis
        }
        // A large step, so that some token's probability moves by more than the tis clamp [0.5, 5].
        let opt = AdamW(model: model, schedule: LRSchedule(peak: 1e-1), clipNorm: 1)
        let batch = try sampleBatch(model, iteration: 1, prompts: 16, n: 4)  // policy version 0
        let first = try PolicyUpdate.run(
            model: model, optimizer: opt, batch: batch, rl: settings.rl, sizes: settings.batch,
            temperature: 1, klCoef: 0, policyVersion: 0)
        XCTAssertEqual(first.staleSamples, 0)
        XCTAssertEqual(first.policy.offPolicyAdjustedFraction, 0, "on-policy: w = 1 everywhere")
        let snapshot = model.params.toArray()
        // The same (now one version old) batch, declared stale: logp_old comes from the current weights.
        let stale = try PolicyUpdate.run(
            model: model, optimizer: opt, batch: batch, rl: settings.rl, sizes: settings.batch,
            temperature: 1, klCoef: 0, policyVersion: 1)
        XCTAssertEqual(stale.staleSamples, 64)
        XCTAssertEqual(stale.policy.approxKL, 0, accuracy: 1e-6, "ratio 1 at the first step")
        XCTAssertEqual(stale.policy.clipFraction, 0)
        XCTAssertGreaterThan(
            stale.policy.offPolicyAdjustedFraction, 0, "w = exp(logp_old − logp_behaviour) was clamped somewhere")
        // Taken as fresh from the same weights without a correction, the ratio compares against version 0's
        // log-probs (the metrics are measured before the step, so the optimiser state does not matter).
        snapshot.withUnsafeBufferPointer { model.params.pointer.update(from: $0.baseAddress!, count: $0.count) }
        var uncorrected = settings.rl
        uncorrected.offPolicy = .none
        let fresh = try PolicyUpdate.run(
            model: model, optimizer: AdamW(model: model, schedule: LRSchedule(peak: 3e-2)), batch: batch,
            rl: uncorrected, sizes: settings.batch,
            temperature: 1, klCoef: 0, policyVersion: 0)
        XCTAssertGreaterThan(fresh.policy.approxKL, 1e-5)
    }

    /// A recompute of logp_old (stale samples) leaves the behaviour log-probs as the workers sampled them: the
    /// off-policy correction and `rollout/logprob_abs_diff` read those, the ratio and the KL term logp_old.
    func testRecomputedOldLogprobsLeaveTheBehaviourLogprobs() throws {
        let (settings, model) = try tinySetup(seed: 5)
        let sampled = try sampleBatch(model, iteration: 1, prompts: 16, n: 4)
        // Workers' log-probs that differ from the learner's, as bf16 workers' do.
        let batch = shifted(sampled, by: -0.25)
        let learner = sampled.tensors().behaviourLogprobs
        let fresh = try PolicyUpdate.tensors(
            batch, model: model, policyVersion: 0, microBatch: settings.batch.microBatchSize, temperature: 1)
        XCTAssertEqual(fresh.oldLogprobs, fresh.behaviourLogprobs, "on-policy: logp_old is the behaviour log-probs")
        let stale = try PolicyUpdate.tensors(
            batch, model: model, policyVersion: 1, microBatch: settings.batch.microBatchSize, temperature: 1)
        XCTAssertEqual(stale.behaviourLogprobs, fresh.behaviourLogprobs, "the workers' log-probs stay")
        for i in stale.mask.indices where stale.mask[i] > 0 {
            XCTAssertEqual(stale.oldLogprobs[i], learner[i], accuracy: 1e-4, "logp_old is the learner's, at \(i)")
            XCTAssertEqual(stale.behaviourLogprobs[i], learner[i] - 0.25, accuracy: 1e-6)
        }
        XCTAssertEqual(stale.slice(2..<5).behaviourLogprobs, stale.rows(stale.behaviourLogprobs, 2..<5))
        XCTAssertEqual(stale.slice(2..<5).oldLogprobs, stale.rows(stale.oldLogprobs, 2..<5))
        XCTAssertEqual(stale.advantageInput().logprobs, stale.oldLogprobs, "the KL term reads logp_old")
        // The mismatch metric compares the learner with the workers' log-probs of current-version samples.
        let opt = AdamW(model: model, schedule: LRSchedule(peak: 1e-3))
        let report = try PolicyUpdate.run(
            model: model, optimizer: opt, batch: batch, rl: settings.rl, sizes: settings.batch, temperature: 1,
            klCoef: 0, policyVersion: 0)
        XCTAssertEqual(try XCTUnwrap(report.logprobAbsDiff), 0.25, accuracy: 1e-3)
    }

    /// With an off-policy correction configured, logp_old is the learner's for every sample, stale or not, so the
    /// correction weighs a difference between the workers' log-probs and the learner's (bf16 workers): here
    /// w = exp(−1) on every token, below tis' lower bound 0.5.
    func testACorrectionWeighsTheWorkersAgainstTheLearnerOnPolicyToo() throws {
        var (settings, model) = try tinySetup(seed: 6)
        let sampled = try sampleBatch(model, iteration: 1, prompts: 16, n: 4)
        let batch = shifted(sampled, by: 1)
        let learner = sampled.tensors().behaviourLogprobs
        let t = try PolicyUpdate.tensors(
            batch, model: model, policyVersion: 0, microBatch: settings.batch.microBatchSize, temperature: 1,
            recomputeOld: true)
        for i in t.mask.indices where t.mask[i] > 0 {
            XCTAssertEqual(t.oldLogprobs[i], learner[i], accuracy: 1e-4, "logp_old is the learner's, at \(i)")
        }
        settings.rl.offPolicy = .tis
        let report = try PolicyUpdate.run(
            model: model, optimizer: AdamW(model: model, schedule: LRSchedule(peak: 1e-3)), batch: batch,
            rl: settings.rl, sizes: settings.batch, temperature: 1, klCoef: 0, policyVersion: 0)
        XCTAssertEqual(report.staleSamples, 0)
        XCTAssertEqual(report.policy.offPolicyAdjustedFraction, 1, "every token's w = exp(-1) clamped to 0.5")
        XCTAssertEqual(try XCTUnwrap(report.logprobAbsDiff), 1, accuracy: 1e-3)
    }

    /// `batch` with every behaviour log-prob moved by `d`, as workers that compute differently give them.
    func shifted(_ batch: RolloutBatch, by d: Float) -> RolloutBatch {
        var out = batch
        for i in out.experiences.indices {
            out.experiences[i].rollout.behaviourLogprobs = out.experiences[i].rollout.behaviourLogprobs.map { $0 + d }
        }
        return out
    }

    func testConfigMapping() throws {
        var c = RunConfig()
        c.algorithm.estimator = .groupNorm
        c.kl.controller = .adaptive
        c.kl.target = 2
        let s = try LearnerSettings(config: c, endpoints: .inproc("x"))
        XCTAssertEqual(s.rl.estimator, .groupNorm)
        XCTAssertEqual(s.rl.klTarget, 2)
        XCTAssertEqual(s.batch.optimizerStepsPerIteration, 2, "128 × 4 / 256")
        XCTAssertEqual(
            s.sampling(stopTokens: [2, 5]).stopTokens, [2, 5], "the learner's stop tokens go to every unit")
        c.algorithm.estimator = .gae
        XCTAssertEqual(try LearnerSettings(config: c, endpoints: .inproc("x")).rl.estimator, .gae)
        c.algorithm.estimator = .rloo
        c.algorithm.samplesPerPrompt = 1
        XCTAssertThrowsError(try LearnerSettings(config: c, endpoints: .inproc("x")))
        let tcp = try LearnerEndpoints(cluster: RunConfig().cluster)
        var expected = LearnerEndpoints(
            control: "tcp://127.0.0.1:5600", weights: "tcp://127.0.0.1:5601",
            rollouts: "tcp://127.0.0.1:5603", status: "tcp://127.0.0.1:5602",
            localWeights: "ipc:///tmp/rpp-\(getuid())-\(NetworkNamespace.current)-weights-5601.ipc")
        expected.sharedWeights = true
        XCTAssertEqual(tcp, expected, "versions in shared memory, announced on the Unix socket")
        XCTAssertEqual(tcp.workerWeights, tcp.localWeights, "workers on a loopback learner's machine take the socket")
        var ipc = RunConfig().cluster
        ipc.weightsSocket = .ipc
        XCTAssertEqual(try LearnerEndpoints(cluster: ipc).localWeights, expected.localWeights)
        XCTAssertFalse(try LearnerEndpoints(cluster: ipc).sharedWeights)
        var remote = RunConfig().cluster
        remote.learner = "tcp://10.1.2.3:5600"
        XCTAssertNil(try LearnerEndpoints(cluster: remote).localWeights)
        XCTAssertFalse(try LearnerEndpoints(cluster: remote).sharedWeights)
        XCTAssertEqual(try LearnerEndpoints(cluster: remote).workerWeights, "tcp://10.1.2.3:5601")
    }
}
