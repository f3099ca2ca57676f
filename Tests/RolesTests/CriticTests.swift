// The PPO critic: the clipped value loss's gradient through the whole critic against finite differences;
// which position's value belongs to response token t (against values of explicit prefixes); a PPO update on a
// toy raises the reward and lowers the value loss; checkpoint → restore of a PPO trainer gives the identical
// next update, bit for bit.
import Foundation
import Model
import RLCore
import RunKit
import TestKit
import Wire
import XCTest

@testable import Roles

final class CriticTests: XCTestCase {
    static let tiny = ModelConfig(
        hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 2,
        vocabSize: 16, maxPositionEmbeddings: 32)

    /// Rollouts with prompts of different lengths and responses of different lengths (1 to 4 tokens).
    func handBatch() -> RolloutBatch {
        let shapes: [(prompt: [Int32], response: [Int32])] = [
            ([0, 0, 3, 12, 4, 15], [5, 6, 1]), ([3, 4, 12, 5, 15], [7]),
            ([0, 9, 12, 2, 15], [2, 3, 4, 1]), ([0, 0, 0, 8, 12, 8, 15], [10, 1]),
        ]
        let items = shapes.enumerated().map { b, s in
            Experience(
                rollout: Rollout(
                    unitID: 1, promptID: UInt64(b / 2), sampleIndex: b % 2, promptTokens: s.prompt,
                    responseTokens: s.response, behaviourLogprobs: s.response.map { _ in -1 },
                    finishReason: .stop, policyVersion: 0, workerID: "w"),
                reward: Float(b % 2), refLogprobs: nil)
        }
        return RolloutBatch(iteration: 1, samplesPerPrompt: 2, experiences: items)
    }

    func testValueOfResponseTokenTIsTheStateBeforeIt() throws {
        let critic = try Transformer(
            config: {
                var c = Self.tiny
                c.scalarHead = true
                return c
            }())
        critic.initializeWeights(seed: 4, std: 0.3)
        let c = try Critic(model: critic, optimizer: AdamW(model: critic, schedule: LRSchedule(peak: 1e-3)))
        let t = handBatch().tensors()
        let v = try c.values(t, microBatch: 3)  // two micro-batches of different padded lengths
        for (b, e) in handBatch().experiences.enumerated() {
            let prompt = e.rollout.promptTokens
            let response = e.rollout.responseTokens
            for i in 0..<t.shape.tokens {
                let got = v[b * t.shape.tokens + i]
                guard i < response.count else {
                    XCTAssertEqual(got, 0, "padding of row \(b) is 0")
                    continue
                }
                // Independently: the value at the last position of prompt + response[0..<i], one row alone.
                let prefix = prompt + response[0..<i]
                let want = try critic.sequenceValues([prefix])[0].last!
                XCTAssertEqual(got, want, accuracy: 1e-5, "row \(b) token \(i): V of the state before it")
                // and not the value after the token itself
                let after = try critic.sequenceValues([prefix + [response[i]]])[0].last!
                XCTAssertNotEqual(got, after, "row \(b) token \(i)")
            }
        }
    }

    func testValueLossGradientThroughTheWholeCritic() throws {
        let model = try Transformer(
            config: {
                var c = Self.tiny
                c.scalarHead = true
                return c
            }())
        model.initializeWeights(seed: 9, std: 0.3)
        let critic = try Critic(model: model, optimizer: AdamW(model: model, schedule: LRSchedule(peak: 1e-3)))
        let t = handBatch().tensors()
        var rl = RLConfig()
        rl.estimator = .gae
        rl.valueClip = 0.5
        let v0 = try critic.values(t, microBatch: 4)
        // V_old 0.2 off (inside the clip) on even tokens, 1.5 off (clipped) on odd ones; returns in [-1, 1].
        var rng = Xoshiro256(seed: 11)
        let old = v0.indices.map { v0[$0] + ($0 % 2 == 0 ? 0.2 : -1.5) * (t.mask[$0]) }
        let returns = v0.indices.map { _ in Float(rng.uniform() * 2 - 1) }
        let aggregator = LossAggregator(mode: rl.aggregation, mask: t.mask, shape: t.shape)
        func loss() -> Double {
            let input = ValueLossInput<Float>(
                shape: t.shape, mask: t.mask, values: try! critic.forward(t),
                oldValues: old, returns: returns)
            return try! valueLoss(input, config: rl, aggregator: aggregator).loss
        }
        model.zeroGrad()
        let input = ValueLossInput<Float>(
            shape: t.shape, mask: t.mask, values: try critic.forward(t),
            oldValues: old, returns: returns)
        let result = try valueLoss(input, config: rl, aggregator: aggregator)
        XCTAssertGreaterThan(result.metrics.clippedTokens, 0, "some tokens take the clipped branch")
        XCTAssertLessThan(result.metrics.clippedTokens, result.metrics.tokens, "and some do not")
        try critic.backward(result.gradValues, t)
        let g = model.grads.toArray()
        for s in model.layout.specs {
            try checkDirectionalDerivatives(
                s.name, x: model.params.pointer + s.offset, count: s.count,
                analytic: Array(g[s.offset..<s.offset + s.count]), loss: loss)
        }
        XCTAssertNotNil(model.layout.spec(named: "score.weight"))
    }

    /// Central differences along 3 random unit directions and on the 3 largest coordinates (Float32 weights,
    /// loss in Double), agreeing to 3% of the gradient norm.
    func checkDirectionalDerivatives(
        _ name: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
        eps: Float = 5e-3, rtol: Double = 3e-2, loss: () -> Double
    ) throws {
        var rng = Xoshiro256(seed: 7)
        let gnorm = analytic.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertGreaterThan(gnorm, 1e-6, "\(name): zero gradient, the check would be vacuous")
        let saved = Array(UnsafeBufferPointer(start: x, count: count))
        func central(_ direction: [Double]) -> Double {
            for i in 0..<count { x[i] = saved[i] + eps * Float(direction[i]) }
            let plus = loss()
            for i in 0..<count { x[i] = saved[i] - eps * Float(direction[i]) }
            let minus = loss()
            for i in 0..<count { x[i] = saved[i] }
            return (plus - minus) / (2 * Double(eps))
        }
        for _ in 0..<3 {
            var u = (0..<count).map { _ in rng.normal() }
            let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            u = u.map { $0 / norm }
            let an = zip(analytic, u).reduce(0.0) { $0 + Double($1.0) * $1.1 }
            XCTAssertEqual(an, central(u), accuracy: rtol * gnorm + 1e-5, "\(name): directional derivative")
        }
        for i in analytic.indices.sorted(by: { abs(analytic[$0]) > abs(analytic[$1]) }).prefix(3) {
            var e = [Double](repeating: 0, count: count)
            e[i] = 1
            let fd = central(e)
            XCTAssertEqual(Double(analytic[i]), fd, accuracy: rtol * abs(fd) + 2e-3 * gnorm + 1e-5, "\(name)[\(i)]")
        }
    }

    func testCriticStartsFromThePolicyWithAZeroHead() throws {
        let policy = try Transformer(config: Self.tiny)
        policy.initializeWeights(seed: 2)
        var c = RunConfig()
        c.algorithm.estimator = .gae
        c.optim.lr = 2e-4
        let critic = try Critic.make(settings: try LearnerSettings(config: c, endpoints: .inproc("x")), policy: policy)
        XCTAssertTrue(critic.model.config.scalarHead)
        XCTAssertEqual(critic.model.tensor("score.weight"), [Float](repeating: 0, count: 16))
        XCTAssertEqual(
            critic.model.tensor("model.layers.1.mlp.down_proj.weight"),
            policy.tensor("model.layers.1.mlp.down_proj.weight"))
        XCTAssertEqual(critic.optimizer.schedule.peak, 2e-4, "critic_lr defaults to optim.lr")
        c.algorithm.criticLR = 5e-3
        c.model.criticInit = "/nonexistent/critic"
        XCTAssertThrowsError(
            try Critic.make(settings: try LearnerSettings(config: c, endpoints: .inproc("x")), policy: policy)
        ) {
            XCTAssertTrue("\($0)".contains("model.critic_init /nonexistent/critic"), "\($0)")
        }
        c.model.criticInit = nil
        let other = try Critic.make(settings: try LearnerSettings(config: c, endpoints: .inproc("x")), policy: policy)
        XCTAssertEqual(other.optimizer.schedule.peak, 5e-3)
    }

    func testCriticInitFromAScalarHeadOrAPolicyCheckpoint() throws {
        let policy = try Transformer(config: Self.tiny)
        policy.initializeWeights(seed: 2)
        var c = RunConfig()
        c.algorithm.estimator = .gae
        let dir = try temporaryDirectory("rpp-critic-init").appendingPathComponent("checkpoint")
        // A scalar-head checkpoint is taken as it is, head included.
        let trained = try Critic.make(settings: try LearnerSettings(config: c, endpoints: .inproc("x")), policy: policy)
        trained.model.initializeWeights(seed: 8)
        try trained.save(directory: dir.appendingPathComponent("critic"))
        c.model.criticInit = dir.appendingPathComponent("critic").path
        let fromCritic = try Critic.make(
            settings: try LearnerSettings(config: c, endpoints: .inproc("x")), policy: policy)
        XCTAssertEqual(fromCritic.model.params.toArray(), trained.model.params.toArray())
        // A language-model checkpoint gets a zero head in place of its LM head.
        let other = try Transformer(config: Self.tiny)
        other.initializeWeights(seed: 5)
        try other.save(directory: dir.appendingPathComponent("lm"))
        c.model.criticInit = dir.appendingPathComponent("lm").path
        let fromLM = try Critic.make(settings: try LearnerSettings(config: c, endpoints: .inproc("x")), policy: policy)
        XCTAssertEqual(fromLM.model.tensor("score.weight"), [Float](repeating: 0, count: 16))
        XCTAssertEqual(fromLM.model.tensor("model.embed_tokens.weight"), other.tensor("model.embed_tokens.weight"))
    }
}
