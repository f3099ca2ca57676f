// Finite-difference checks (float64) of every loss gradient: policy loss (plain, asymmetric clip, dual clip,
// tis, icepop, KL loss with k2/k3, entropy, sequence mean), KL estimator derivatives, value loss (clip or not).
import TestKit
import XCTest

@testable import RLCore

final class GradientTests: XCTestCase {
    private struct PolicyCase {
        var shape: TokenShape
        var mask: [Double], new: [Double], old: [Double], adv: [Double]
        var behaviour: [Double], ref: [Double], entropy: [Double]
    }

    private func makeCase(seed: UInt64, shape: TokenShape = TokenShape(samples: 4, tokens: 6)) -> PolicyCase {
        var rng = TestRNG(seed: seed)
        let n = shape.count
        let old = (0..<n).map { _ in -rng.uniform(0.1, 3) }
        return PolicyCase(
            shape: shape, mask: rng.mask(shape), new: old.map { $0 + 0.5 * rng.normal() }, old: old,
            adv: (0..<n).map { _ in 1.5 * rng.normal() },
            behaviour: old.map { $0 + 0.7 * rng.normal() },
            ref: old.map { $0 + 0.6 * rng.normal() },
            entropy: (0..<n).map { _ in rng.uniform(0, 2) })
    }

    private func input(_ c: PolicyCase, new: [Double]? = nil, entropy: [Double]? = nil) -> PolicyLossInput<Double> {
        PolicyLossInput(
            shape: c.shape, mask: c.mask, logprobs: new ?? c.new, oldLogprobs: c.old, advantages: c.adv,
            behaviourLogprobs: c.behaviour, refLogprobs: c.ref, entropy: entropy ?? c.entropy)
    }

    private var variants: [(String, RLConfig)] {
        var list: [(String, RLConfig)] = [("plain", RLConfig())]
        var c = RLConfig()
        c.epsLow = 0.1
        c.epsHigh = 0.35
        list.append(("asymmetric", c))
        c = RLConfig()
        c.dualClip = 1.5
        list.append(("dual clip", c))
        c = RLConfig()
        c.offPolicy = .tis
        list.append(("tis", c))
        c = RLConfig()
        c.offPolicy = .icepop
        c.offPolicyRange = ClipRange(0.6, 1.8)
        list.append(("icepop", c))
        c = RLConfig()
        c.klPlacement = .loss
        c.klEstimator = .k2
        c.klCoef = 0.3
        list.append(("kl k2", c))
        c = RLConfig()
        c.klPlacement = .loss
        c.klEstimator = .k3
        c.klCoef = 0.2
        list.append(("kl k3", c))
        c = RLConfig()
        c.entropyCoef = 0.05
        list.append(("entropy", c))
        c = RLConfig()
        c.aggregation = .sequenceMean
        c.dualClip = 2
        c.entropyCoef = 0.01
        c.klPlacement = .loss
        c.klEstimator = .k3
        c.offPolicy = .tis
        list.append(("seq mean, everything", c))
        return list
    }

    func testPolicyGradientWithRespectToLogprobs() throws {
        for (seed, (name, config)) in variants.enumerated() {
            let c = makeCase(seed: UInt64(seed + 1))
            let result = try policyLoss(input(c), config: config)
            XCTAssertGreaterThan(result.gradLogprobs.map(abs).max() ?? 0, 0, "\(name): gradient not trivially 0")
            XCTAssertGreaterThan(result.metrics.clippedTokens, 0, "\(name): some tokens are clipped")
            if config.dualClip != nil {
                XCTAssertGreaterThan(result.metrics.dualClippedTokens, 0, "\(name): dual clip active")
            }
            if config.offPolicy != .none {
                XCTAssertGreaterThan(result.metrics.offPolicyAdjustedTokens, 0, "\(name): off-policy weight active")
            }
            try checkGradient(c.new, analytic: result.gradLogprobs, "\(name) d/dlogp") { x in
                try policyLoss(self.input(c, new: x), config: config).loss
            }
        }
    }

    func testPolicyGradientWithRespectToEntropy() throws {
        var config = RLConfig()
        config.entropyCoef = 0.07
        for aggregation in LossAggregation.allCases {
            config.aggregation = aggregation
            let c = makeCase(seed: 42)
            let result = try policyLoss(input(c), config: config)
            let grad = try XCTUnwrap(result.gradEntropy)
            try checkGradient(c.entropy, analytic: grad, "d/dentropy \(aggregation)") { x in
                try policyLoss(self.input(c, entropy: x), config: config).loss
            }
        }
    }

    func testRatioClampKillsTheGradient() throws {
        // logp_new - logp_old = 25 > 20: ratio is constant, so is the loss; A < 0 keeps the unclipped branch.
        let shape = TokenShape(samples: 1, tokens: 1)
        let result = try policyLoss(
            PolicyLossInput(
                shape: shape, mask: [1.0], logprobs: [24.0], oldLogprobs: [-1],
                advantages: [-1]), config: RLConfig())
        XCTAssertEqual(result.gradLogprobs, [0])
        assertClose(result.loss, exp(20), tol: 1e-6 * exp(20), "ratio clamped at e^20")
    }

    func testKLEstimatorDerivatives() throws {
        for estimator in KLEstimator.allCases {
            for d in [-3.0, -0.7, -0.01, 0.2, 1.3, 2.5] {
                let (value, derivative) = estimator.valueAndDerivative(d)
                assertClose(value, estimator.value(d), tol: 0, "\(estimator) value")
                let h = 1e-6
                let numeric = (estimator.value(d + h) - estimator.value(d - h)) / (2 * h)
                assertClose(derivative, numeric, tol: 1e-7, "\(estimator) derivative at \(d)")
            }
            // In the clamped region the derivative is 0.
            XCTAssertEqual(estimator.valueAndDerivative(15).derivative, 0, "\(estimator) clamped")
        }
    }

    func testValueLossGradient() throws {
        for (clip, aggregation) in [(0.5, LossAggregation.tokenMean), (nil, .tokenMean), (0.2, .sequenceMean)]
            as [(Double?, LossAggregation)]
        {
            var config = RLConfig()
            config.valueClip = clip
            config.aggregation = aggregation
            var rng = TestRNG(seed: 7)
            let shape = TokenShape(samples: 6, tokens: 8)
            let mask = rng.mask(shape)
            let old = (0..<shape.count).map { _ in rng.normal() }
            let values = old.map { $0 + 0.6 * rng.normal() }
            let returns = (0..<shape.count).map { _ in 1.5 * rng.normal() }
            func loss(_ v: [Double]) throws -> ValueLossResult<Double> {
                try valueLoss(
                    ValueLossInput(shape: shape, mask: mask, values: v, oldValues: old, returns: returns),
                    config: config)
            }
            let result = try loss(values)
            if clip == 0.5 { XCTAssertGreaterThan(result.metrics.clippedTokens, 0, "some tokens are clipped") }
            try checkGradient(values, analytic: result.gradValues, "value clip \(String(describing: clip))") { v in
                try loss(v).loss
            }
        }
    }
}
