// Small cases worked out by hand (numbers in the comments), independent of the specification's worked cases.
import TestKit
import XCTest

@testable import RLCore

final class HandCaseTests: XCTestCase {
    func testGAEByHand() throws {
        // r = 1 at the last token, V = [0.5, 0.2, 0.4], γ = 0.9, λ = 0.8, β = 0:
        // δ2 = 1 - 0.4 = 0.6; δ1 = 0.9·0.4 - 0.2 = 0.16; δ0 = 0.9·0.2 - 0.5 = -0.32
        // A2 = 0.6; A1 = 0.16 + 0.72·0.6 = 0.592; A0 = -0.32 + 0.72·0.592 = 0.10624; G = A + V.
        var config = RLConfig(estimator: .gae, samplesPerPrompt: 1)
        config.gamma = 0.9
        config.lambda = 0.8
        config.klCoef = 0
        config.advantageNormalization = .none
        let d = try computeAdvantages(
            AdvantageInput(
                shape: TokenShape(samples: 1, tokens: 4), rewards: [1],
                mask: [1.0, 1, 1, 0], logprobs: [0, 0, 0, 0],
                values: [0.5, 0.2, 0.4, 99]), config: config)
        assertClose(d.advantages, [0.10624, 0.592, 0.6, 0], tol: 1e-12, "A")
        assertClose(d.returns, [0.60624, 0.792, 1.0, 0], tol: 1e-12, "returns")
    }

    func testDiscountedReturnsByHand() throws {
        // β = 0.1, k1 = [0.1, 0.2, -0.1], r = 2, γ = 0.5: rewards [-0.01, -0.02, 2.01];
        // G2 = 2.01, G1 = -0.02 + 1.005 = 0.985, G0 = -0.01 + 0.4925 = 0.4825.
        var config = RLConfig(estimator: .reinforce, samplesPerPrompt: 1)
        config.gamma = 0.5
        config.klCoef = 0.1
        config.advantageNormalization = .none
        let d = try computeAdvantages(
            AdvantageInput(
                shape: TokenShape(samples: 1, tokens: 3), rewards: [2],
                mask: [1.0, 1, 1], logprobs: [-1, -1, -1],
                refLogprobs: [-1.1, -1.2, -0.9]), config: config)
        assertClose(d.tokenRewards, [-0.01, -0.02, 2.01], tol: 1e-12, "token rewards")
        assertClose(d.returns, [0.4825, 0.985, 2.01], tol: 1e-12, "returns")
        assertClose(d.advantages, [0.4825, 0.985, 2.01], tol: 1e-12, "A = G")
    }

    func testK3ByHand() {
        // d = ln 2: 0.5 - 1 + ln 2; d = -1: e - 1 - 1; d = -20: clamp to 10.
        assertClose(KLEstimator.k3.value(log(2)), 0.5 - 1 + log(2), tol: 1e-15, "k3(ln 2)")
        assertClose(KLEstimator.k3.value(-1), exp(1) - 2, tol: 1e-15, "k3(-1)")
        XCTAssertEqual(KLEstimator.k3.value(-20), 10)
        XCTAssertEqual(KLEstimator.k1.value(-20), -10)
    }

    private func oneToken(
        new: Double, old: Double, adv: Double, behaviour: Double? = nil,
        config: RLConfig
    ) throws -> PolicyLossResult<Double> {
        try policyLoss(
            PolicyLossInput(
                shape: TokenShape(samples: 1, tokens: 1), mask: [1], logprobs: [new],
                oldLogprobs: [old], advantages: [adv],
                behaviourLogprobs: behaviour.map { [$0] }), config: config)
    }

    func testDualClipByHand() throws {
        // A = -1, ratio = e^1.5 ≈ 4.4817: s1 = -4.4817, s2 = -0.8·... no: clamp(ratio) = 1.2 → s2 = -1.2;
        // min = -4.4817 → loss 4.4817; with c = 3: max(-4.4817, -3) = -3 → loss 3, gradient 0.
        var config = RLConfig()
        let plain = try oneToken(new: 0.5, old: -1, adv: -1, config: config)
        assertClose(plain.loss, exp(1.5), tol: 1e-12, "no dual clip")
        assertClose(plain.gradLogprobs[0], exp(1.5), tol: 1e-12, "d(-ratio·A)/dlogp = ratio")
        config.dualClip = 3
        let dual = try oneToken(new: 0.5, old: -1, adv: -1, config: config)
        assertClose(dual.loss, 3, tol: 1e-12, "dual clip")
        XCTAssertEqual(dual.gradLogprobs, [0])
        XCTAssertEqual(dual.metrics.dualClipFraction, 1)
        // For A > 0 the dual clip does nothing: ratio 4.48 is clipped to 1.2 → loss -1.2.
        assertClose(try oneToken(new: 0.5, old: -1, adv: 1, config: config).loss, -1.2, tol: 1e-12, "A > 0")
    }

    func testOffPolicyWeightsByHand() throws {
        // ratio 1, A = 1 → -min(s1, s2) = -1 per token; w = exp(old - behaviour).
        var config = RLConfig()
        config.offPolicy = .tis
        assertClose(
            try oneToken(new: -1, old: -1, adv: 1, behaviour: -1 - log(8), config: config).loss, -5, tol: 1e-12,
            "tis: w = 8 truncated to 5")
        assertClose(
            try oneToken(new: -1, old: -1, adv: 1, behaviour: -1 + log(4), config: config).loss, -0.5, tol: 1e-12,
            "tis: w = 0.25 raised to 0.5")
        assertClose(
            try oneToken(new: -1, old: -1, adv: 1, behaviour: -1 - log(2), config: config).loss, -2, tol: 1e-12,
            "tis: w = 2 kept")
        config.offPolicy = .icepop
        let dropped = try oneToken(new: -1, old: -1, adv: 1, behaviour: -1 - log(8), config: config)
        XCTAssertEqual(dropped.loss, 0, "icepop: w = 8 outside [0.5, 5] → 0")
        XCTAssertEqual(dropped.gradLogprobs, [0])
        XCTAssertEqual(dropped.metrics.offPolicyAdjustedFraction, 1)
        let kept = try oneToken(new: -1, old: -1, adv: 1, behaviour: -1 - log(2), config: config)
        assertClose(kept.loss, -2, tol: 1e-12, "icepop: w = 2 kept")
        assertClose(kept.gradLogprobs[0], -2, tol: 1e-12, "gradient scaled by w")
    }

    func testValueLossByHand() throws {
        // V = 1, V_old = 0, R = 2, c = 0.5: V_clip = 0.5, (0.5-2)² = 2.25 > (1-2)² = 1 → 0.5·2.25, gradient 0.
        // V = 0.3, V_old = 0, R = -1: both terms 1.69 → 0.845, gradient 0.5·2·1.3 = 1.3.
        let config = RLConfig()
        func one(_ v: Double, _ old: Double, _ r: Double) throws -> ValueLossResult<Double> {
            try valueLoss(
                ValueLossInput(
                    shape: TokenShape(samples: 1, tokens: 1), mask: [1], values: [v],
                    oldValues: [old], returns: [r]), config: config)
        }
        let clipped = try one(1, 0, 2)
        assertClose(clipped.loss, 1.125, tol: 1e-12, "clipped")
        XCTAssertEqual(clipped.gradValues, [0])
        XCTAssertEqual(clipped.metrics.clipFraction, 1)
        let inside = try one(0.3, 0, -1)
        assertClose(inside.loss, 0.845, tol: 1e-12, "inside")
        assertClose(inside.gradValues[0], 1.3, tol: 1e-12, "inside gradient")
    }

    func testSequenceMeanByHand() throws {
        // Two samples: losses [1, 3 | 5, ·] with ratio 1 and A = -loss. token mean = 9/3 = 3;
        // sequence mean = (2 + 5)/2 = 3.5.
        var config = RLConfig()
        let input = PolicyLossInput(
            shape: TokenShape(samples: 2, tokens: 2), mask: [1.0, 1, 1, 0],
            logprobs: [-1, -1, -1, -1], oldLogprobs: [-1, -1, -1, -1], advantages: [-1, -3, -5, 0])
        assertClose(try policyLoss(input, config: config).loss, 3, tol: 1e-12, "token mean")
        config.aggregation = .sequenceMean
        assertClose(try policyLoss(input, config: config).loss, 3.5, tol: 1e-12, "sequence mean")
    }
}
