// One whole learner iteration against PyTorch: Tests/Scripts/make_update_fixture.py runs REINFORCE++ (k1 KL in
// the reward, returns, batch-wide normalisation, two PPO-clip mini-batch steps, gradient clip, AdamW) on the
// tiny transformers Llama of Tests/Fixtures/model/llama-gqa with a fixed batch, written from algorithms.md
// independently of this code. The learner's Trainer must give the same advantages, losses, gradient norms and
// weights.
import Foundation
import Model
import RLCore
import RunKit
import TestKit
import Wire
import XCTest

@testable import Roles

final class UpdateFixtureTests: XCTestCase {
    struct Fixture: Decodable {
        struct Step: Decodable {
            var loss: Double
            var grad_norm: Double
            var clip_fraction: Double
        }
        var prompts: [[Int32]], responses: [[Int32]], rewards: [Float]
        var behaviour_logprobs: [[Double]], ref_logprobs: [[Double]], advantages: [[Double]]
        var steps: [Step]
    }

    func testOneIterationMatchesPyTorch() throws {
        let dir = Fixtures.url("update/reinforce")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: dir.appendingPathComponent("batch.json")))
        let items = f.responses.indices.map { b in
            Experience(
                rollout: Rollout(
                    unitID: 1, promptID: UInt64(b / 4), sampleIndex: b % 4, promptTokens: f.prompts[b],
                    responseTokens: f.responses[b], behaviourLogprobs: f.behaviour_logprobs[b].map(Float.init),
                    finishReason: .stop, policyVersion: 0, workerID: "w"),
                reward: f.rewards[b], refLogprobs: f.ref_logprobs[b].map(Float.init))
        }
        let batch = RolloutBatch(iteration: 1, samplesPerPrompt: 4, experiences: items)
        var c = RunConfig()
        c.algorithm.rolloutBatch = 2
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 4
        c.algorithm.microBatch = 2  // two micro-batches accumulate into each step
        c.kl.coef = 0.01
        c.optim.lr = 3e-4
        c.optim.betas = [0.9, 0.95]
        c.optim.gradClip = 1
        let settings = try LearnerSettings(config: c, endpoints: .inproc("unused"))

        // Advantages over the whole batch.
        let t = batch.tensors()
        let adv = try computeAdvantages(t.advantageInput(), config: settings.rl, klCoef: 0.01)
        for (b, expected) in f.advantages.enumerated() {
            for (i, a) in expected.enumerated() {
                XCTAssertEqual(
                    Double(adv.advantages[b * t.shape.tokens + i]), a, accuracy: 1e-5, "advantage [\(b), \(i)]")
            }
        }

        let model = try Transformer.load(directory: Fixtures.url("model/llama-gqa"))
        let before = model.params.toArray()
        let trainer = Trainer(settings: settings, model: model)
        let report = try trainer.update(batch)
        XCTAssertEqual(report.steps, 2)
        XCTAssertEqual(report.loss, f.steps.map(\.loss).reduce(0, +) / 2, accuracy: 1e-5)
        XCTAssertEqual(report.gradNorm, f.steps.map(\.grad_norm).reduce(0, +) / 2, accuracy: 1e-4 * report.gradNorm)

        // Weights after the iteration: each parameter moved by at most 2 × lr; the moves agree with PyTorch's.
        let expected = try Transformer.load(directory: Fixtures.url("model/llama-gqa"))
        try expected.loadWeights(from: SafetensorsFile(contentsOf: dir.appendingPathComponent("after.safetensors")))
        let after = model.params.toArray()
        let reference = expected.params.toArray()
        var worst = 0.0
        var moved = 0
        for i in after.indices {
            let ours = Double(after[i] - before[i])
            let theirs = Double(reference[i] - before[i])
            worst = max(worst, abs(ours - theirs))
            if abs(theirs) > 1e-6 { moved += 1 }
        }
        print(
            String(
                format: "update fixture: %d of %d parameters moved; max |Δ rpp − Δ PyTorch| = %.2e (lr 3e-4)",
                moved, after.count, worst))
        XCTAssertGreaterThan(moved, after.count / 2, "the iteration moved most parameters")
        XCTAssertLessThan(worst, 1e-6, "rpp's update equals PyTorch's (float32 rounding only)")
    }
}
