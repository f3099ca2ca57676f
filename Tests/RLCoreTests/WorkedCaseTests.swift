// The worked cases of the specification (algorithms.md), in Double and in Float, at 1e-6.
import TestKit
import XCTest

@testable import RLCore

final class WorkedCaseTests: XCTestCase {
    // Case 1: KL estimators with a clamped token.
    func testCase1KLEstimators() throws {
        let shape = TokenShape(samples: 1, tokens: 4)
        let logp = [-1, -2, -0.5, 3.0]
        let ref = [-1.2, -1.5, -0.5, -12]
        let mask = [1.0, 1, 1, 1]
        let k1 = try computeKL(logprobs: logp, refLogprobs: ref, mask: mask, shape: shape, estimator: .k1)
        assertClose(k1, [0.2, -0.5, 0, 10], tol: 1e-6, "k1")
        let k2 = try computeKL(logprobs: logp, refLogprobs: ref, mask: mask, shape: shape, estimator: .k2)
        assertClose(k2, [0.02, 0.125, 0, 10], tol: 1e-6, "k2")
        let k1f = try computeKL(
            logprobs: logp.map(Float.init), refLogprobs: ref.map(Float.init),
            mask: mask.map(Float.init), shape: shape, estimator: .k1)
        assertClose(k1f, [0.2, -0.5, 0, 10], tol: 1e-6, "k1 float")
        let masked = try computeKL(logprobs: logp, refLogprobs: ref, mask: [1, 0, 1, 0], shape: shape, estimator: .k2)
        assertClose(masked, [0.02, 0, 0, 0], tol: 1e-15, "masked positions have KL 0")
    }

    /// Case 2 input: kl given through k1 with logp = ref + kl; reinforce (no baseline), β = 0.01.
    private func case2Input<S: RLScalar>(_: S.Type) -> AdvantageInput<S> {
        let kl: [Double] = [0.2, -0.5, 0.1, 0, 0, 0.3, 0.3, 0.3]
        let ref = [Double](repeating: -1, count: 8)
        return AdvantageInput(
            shape: TokenShape(samples: 2, tokens: 4), rewards: [1, 15],
            mask: [1, 1, 1, 0, 0, 1, 1, 1].map { S($0) },
            logprobs: zip(ref, kl).map { S($0 + $1) }, refLogprobs: ref.map { S($0) })
    }

    private var case2Config: RLConfig {
        var config = RLConfig(estimator: .reinforce, samplesPerPrompt: 1)
        config.klCoef = 0.01
        return config
    }

    // Cases 2 and 3: token rewards (reward clipped to 10, at the last valid token) and returns with γ = 1.
    func testCases2And3TokenRewardsAndReturns() throws {
        let rewards: [Double] = [-0.002, 0.005, 0.999, 0, 0, -0.003, -0.003, 9.997]
        let returns: [Double] = [1.002, 1.004, 0.999, 0, 9.991, 9.991, 9.994, 9.997]
        let d = try computeAdvantages(case2Input(Double.self), config: case2Config)
        assertClose(d.tokenRewards, rewards, tol: 1e-6, "token rewards")
        assertClose(d.returns, returns, tol: 1e-6, "returns")
        XCTAssertEqual(d.shapedRewards, [1, 10], "15 is clipped to 10")
        let f = try computeAdvantages(case2Input(Float.self), config: case2Config)
        assertClose(f.tokenRewards, rewards, tol: 1e-6, "token rewards (Float)")
        assertClose(f.returns, returns, tol: 1e-6, "returns (Float)")
    }

    // Case 4: group baselines, n = 4.
    func testCase4GroupBaselines() throws {
        let r: [Double] = [1, 0, 0, 1, 1, 1, 1, 0]
        let expected: [(AdvantageEstimator, [Double], Double)] = [
            (.rloo, [2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, -1], 1e-9),
            (.reinforceBaseline, [0.5, -0.5, -0.5, 0.5, 0.25, 0.25, 0.25, -0.75], 1e-12),
            (.groupNorm, [0.866025, -0.866025, -0.866025, 0.866025, 0.5, 0.5, 0.5, -1.5], 1e-6),
        ]
        for (estimator, values, tol) in expected {
            let shaped = try shapeRewards(r, config: RLConfig(estimator: estimator, samplesPerPrompt: 4))
            assertClose(shaped, values, tol: tol, estimator.rawValue)
        }
        // The spec prints rloo to 4 decimals.
        let rloo = try shapeRewards(r, config: RLConfig(estimator: .rloo, samplesPerPrompt: 4))
        assertClose(rloo, [0.6667, -0.6667, -0.6667, 0.6667, 0.3333, 0.3333, 0.3333, -1], tol: 5e-5, "rloo printed")
    }

    private func case5Input<S: RLScalar>(_: S.Type) -> PolicyLossInput<S> {
        PolicyLossInput(
            shape: TokenShape(samples: 1, tokens: 4), mask: [1, 1, 1, 0].map { S($0) },
            logprobs: [-0.5, -1, -2, -0.1].map { S($0) }, oldLogprobs: [-1, -1, -1, -0.1].map { S($0) },
            advantages: [1, -1, -2, 0.5].map { S($0) })
    }

    // Case 5: PPO clip with ε_low 0.2, ε_high 0.28.
    func testCase5PPOClip() throws {
        var config = RLConfig()
        config.epsLow = 0.2
        config.epsHigh = 0.28
        let d = try policyLoss(case5Input(Double.self), config: config)
        assertClose(d.loss, 0.44, tol: 1e-6, "token mean")
        assertClose(d.metrics.clipFraction, 2.0 / 3, tol: 1e-12, "clip fraction")
        // Per-token loss from three single-token batches: [-1.28, 1.0, 1.6].
        for (t, expected) in [-1.28, 1.0, 1.6].enumerated() {
            var one = case5Input(Double.self)
            one.mask = [0, 0, 0, 0]
            one.mask[t] = 1
            assertClose(try policyLoss(one, config: config).loss, expected, tol: 1e-6, "token \(t)")
        }
        let f = try policyLoss(case5Input(Float.self), config: config)
        assertClose(f.loss, 0.44, tol: 1e-6, "token mean (Float)")
        assertClose(f.metrics.clipFraction, 2.0 / 3, tol: 1e-12, "clip fraction (Float)")
    }
}
