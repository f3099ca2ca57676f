// Properties of the advantage estimators and losses: normalisation moments, padding never leaking into any
// output, loss or metric, rloo of equal rewards, textbook forms with β = 0 and one token, micro-batch additivity.
import TestKit
import XCTest

@testable import RLCore

final class PropertyTests: XCTestCase {
    private func randomInput(seed: UInt64, shape: TokenShape, n: Int = 4) -> AdvantageInput<Double> {
        var rng = TestRNG(seed: seed)
        let logp = (0..<shape.count).map { _ in -rng.uniform(0, 3) }
        return AdvantageInput(
            shape: shape, rewards: (0..<shape.samples).map { _ in 2 * rng.normal() },
            mask: rng.mask(shape), logprobs: logp,
            refLogprobs: logp.map { $0 + 0.4 * rng.normal() },
            values: (0..<shape.count).map { _ in rng.normal() })
    }

    func testGlobalNormalisationHasMaskedMeanZeroAndVarianceOne() throws {
        let shape = TokenShape(samples: 16, tokens: 9)
        for estimator in [AdvantageEstimator.reinforce, .reinforceBaseline, .gae] {
            var config = RLConfig(estimator: estimator, samplesPerPrompt: 4)
            config.advantageClip = 1e9  // no final clamp, to see the pure normalisation
            config.lambda = 0.95
            let input = randomInput(seed: 11, shape: shape)
            let d = try computeAdvantages(input, config: config)
            let (mean, variance) = maskedMoments(d.advantages, input.mask)
            assertClose(mean, 0, tol: 1e-12, "\(estimator) mean")
            assertClose(variance, 1, tol: 1e-12, "\(estimator) variance")
            let f = try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: input.rewards, mask: input.mask.map(Float.init),
                    logprobs: input.logprobs.map(Float.init),
                    refLogprobs: input.refLogprobs?.map(Float.init),
                    values: input.values?.map(Float.init)), config: config)
            let (fm, fv) = maskedMoments(f.advantages, input.mask)
            assertClose(fm, 0, tol: 1e-6, "\(estimator) mean (Float)")
            assertClose(fv, 1, tol: 1e-5, "\(estimator) variance (Float)")
            // Mean only: masked mean 0, variance of the raw advantages kept.
            config.advantageNormalization = .mean
            let m = try computeAdvantages(input, config: config)
            config.advantageNormalization = .none
            let raw = try computeAdvantages(input, config: config)
            assertClose(maskedMoments(m.advantages, input.mask).mean, 0, tol: 1e-12, "\(estimator) mean-only")
            assertClose(
                maskedMoments(m.advantages, input.mask).variance, maskedMoments(raw.advantages, input.mask).variance,
                tol: 1e-12, "\(estimator) mean-only keeps the variance")
            if estimator != .gae { XCTAssertEqual(raw.advantages, raw.returns, "critic-free: A = G") }
        }
    }

    func testGroupEstimatorsAreNotNormalisedAgain() throws {
        let input = randomInput(seed: 12, shape: TokenShape(samples: 8, tokens: 1))
        var one = input
        one.mask = [Double](repeating: 1, count: 8)
        for estimator in [AdvantageEstimator.rloo, .groupNorm, .drGRPO] {
            var config = RLConfig(estimator: estimator, samplesPerPrompt: 4)
            config.klCoef = 0
            let d = try computeAdvantages(one, config: config)
            XCTAssertNil(d.normalization, "\(estimator)")
            assertClose(d.advantages, d.shapedRewards, tol: 1e-15, "\(estimator): A is the shaped reward")
        }
    }

    /// Replaces every padded entry of `x` by wild values (huge, negative, infinite, NaN).
    private func scramble(_ x: [Double], mask: [Double]) -> [Double] {
        let wild: [Double] = [1e300, -1e300, .infinity, -.infinity, .nan, 123.456, -7]
        return x.enumerated().map { mask[$0.offset] == 0 ? wild[$0.offset % wild.count] : $0.element }
    }

    private func sameBits(_ a: [Double], _ b: [Double], _ what: String) {
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), what)
    }

    func testPaddingNeverLeaksIntoAdvantages() throws {
        let shape = TokenShape(samples: 12, tokens: 7)
        for estimator in AdvantageEstimator.allCases {
            var config = RLConfig(estimator: estimator, samplesPerPrompt: 4)
            config.lambda = 0.9
            config.klEstimator = .k3
            let input = randomInput(seed: 13, shape: shape)
            var padded = input
            padded.logprobs = scramble(input.logprobs, mask: input.mask)
            padded.refLogprobs = scramble(input.refLogprobs!, mask: input.mask)
            padded.values = scramble(input.values!, mask: input.mask)
            let a = try computeAdvantages(input, config: config)
            let b = try computeAdvantages(padded, config: config)
            sameBits(a.kl, b.kl, "\(estimator) kl")
            sameBits(a.tokenRewards, b.tokenRewards, "\(estimator) token rewards")
            sameBits(a.returns, b.returns, "\(estimator) returns")
            sameBits(a.advantages, b.advantages, "\(estimator) advantages")
            XCTAssertEqual(a.stats, b.stats, "\(estimator) stats")
            XCTAssertTrue(b.advantages.allSatisfy(\.isFinite), "\(estimator) finite everywhere")
        }
    }

    func testPaddingNeverLeaksIntoLossesOrMetrics() throws {
        var rng = TestRNG(seed: 14)
        let shape = TokenShape(samples: 6, tokens: 8)
        let mask = rng.mask(shape)
        let old = (0..<shape.count).map { _ in -rng.uniform(0.1, 3) }
        let base = PolicyLossInput(
            shape: shape, mask: mask, logprobs: old.map { $0 + 0.4 * rng.normal() }, oldLogprobs: old,
            advantages: (0..<shape.count).map { _ in rng.normal() },
            behaviourLogprobs: old.map { $0 + 0.5 * rng.normal() },
            refLogprobs: old.map { $0 + 0.5 * rng.normal() },
            entropy: (0..<shape.count).map { _ in rng.uniform(0, 2) })
        var wild = base
        wild.logprobs = scramble(base.logprobs, mask: mask)
        wild.oldLogprobs = scramble(base.oldLogprobs, mask: mask)
        wild.advantages = scramble(base.advantages, mask: mask)
        wild.behaviourLogprobs = scramble(base.behaviourLogprobs!, mask: mask)
        wild.refLogprobs = scramble(base.refLogprobs!, mask: mask)
        wild.entropy = scramble(base.entropy!, mask: mask)
        for aggregation in LossAggregation.allCases {
            var config = RLConfig()
            config.aggregation = aggregation
            config.dualClip = 3
            config.entropyCoef = 0.01
            config.klPlacement = .loss
            config.klEstimator = .k3
            config.offPolicy = .icepop
            let a = try policyLoss(base, config: config)
            let b = try policyLoss(wild, config: config)
            XCTAssertEqual(a.loss.bitPattern, b.loss.bitPattern, "loss \(aggregation)")
            sameBits(a.gradLogprobs, b.gradLogprobs, "grad \(aggregation)")
            sameBits(a.gradEntropy!, b.gradEntropy!, "grad entropy \(aggregation)")
            XCTAssertEqual(a.metrics, b.metrics, "metrics \(aggregation)")
            XCTAssertEqual(a.metrics.tokens, mask.reduce(0, +), "metrics count valid tokens only")
            for (g, m) in zip(a.gradLogprobs, mask) where m == 0 { XCTAssertEqual(g, 0) }

            config.valueClip = 0.3
            let v = ValueLossInput(
                shape: shape, mask: mask, values: base.logprobs, oldValues: base.oldLogprobs,
                returns: base.advantages)
            let w = ValueLossInput(
                shape: shape, mask: mask, values: wild.logprobs, oldValues: wild.oldLogprobs,
                returns: wild.advantages)
            let va = try valueLoss(v, config: config)
            let vb = try valueLoss(w, config: config)
            XCTAssertEqual(va.loss.bitPattern, vb.loss.bitPattern, "value loss \(aggregation)")
            sameBits(va.gradValues, vb.gradValues, "value grad \(aggregation)")
            XCTAssertEqual(va.metrics, vb.metrics, "value metrics \(aggregation)")
        }
    }

    func testRLOOOfEqualRewardsIsZero() throws {
        let shape = TokenShape(samples: 8, tokens: 5)
        var input = randomInput(seed: 15, shape: shape)
        input.rewards = [0.7, 0.7, 0.7, 0.7, -3, -3, -3, -3]
        var config = RLConfig(estimator: .rloo, samplesPerPrompt: 4)
        config.klCoef = 0
        let d = try computeAdvantages(input, config: config)
        XCTAssertEqual(d.shapedRewards, [Double](repeating: 0, count: 8))
        XCTAssertTrue(d.advantages.allSatisfy { $0 == 0 }, "every advantage is 0")
    }

    /// β = 0, one token per sample: each estimator is its textbook scalar form.
    func testOneTokenNoKLGivesTextbookForms() throws {
        let r: [Double] = [3, 1, 0, -2, 5, 5, 4, 2]
        let v: [Double] = [0.5, -1, 0.2, 0.1, 2, 1, 0, -0.5]
        let shape = TokenShape(samples: 8, tokens: 1)
        let input = AdvantageInput(
            shape: shape, rewards: r, mask: [Double](repeating: 1, count: 8),
            logprobs: [Double](repeating: -1, count: 8),
            refLogprobs: [Double](repeating: -2, count: 8), values: v)
        func run(_ e: AdvantageEstimator, _ norm: AdvantageNormalization = .none) throws -> [Double] {
            var config = RLConfig(estimator: e, samplesPerPrompt: 4)
            config.klCoef = 0
            config.advantageNormalization = norm
            return try computeAdvantages(input, config: config).advantages
        }
        let groups = [Array(r[0..<4]), Array(r[4..<8])]
        let means = groups.map { $0.reduce(0, +) / 4 }
        let stds = groups.enumerated().map { g in
            (g.element.map { ($0 - means[g.offset]) * ($0 - means[g.offset]) }.reduce(0, +) / 3).squareRoot()
        }
        assertClose(try run(.reinforce), r, tol: 1e-15, "reinforce: A = r")
        let mean = r.reduce(0, +) / 8
        let std = (r.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 8).squareRoot()
        assertClose(try run(.reinforce, .meanStd), r.map { ($0 - mean) / std }, tol: 1e-12, "reinforce: batch z-score")
        assertClose(
            try run(.reinforceBaseline), r.enumerated().map { $0.element - means[$0.offset / 4] }, tol: 1e-15,
            "baseline")
        assertClose(try run(.drGRPO), r.enumerated().map { $0.element - means[$0.offset / 4] }, tol: 1e-15, "dr_grpo")
        assertClose(
            try run(.rloo), r.enumerated().map { i, x in x - (groups[i / 4].reduce(0, +) - x) / 3 }, tol: 1e-12, "rloo")
        assertClose(
            try run(.groupNorm), r.enumerated().map { i, x in (x - means[i / 4]) / (stds[i / 4] + 1e-9) },
            tol: 1e-12, "group_norm")
        assertClose(try run(.gae), zip(r, v).map { $0 - $1 }, tol: 1e-15, "gae: A = r - V")
    }

    func testRewardClipActsAfterTheBaselineAndStaticNormalisationAfterTheClip() throws {
        var config = RLConfig(estimator: .reinforceBaseline, samplesPerPrompt: 2)
        XCTAssertEqual(try shapeRewards([20, 0], config: config), [10, -10], "baseline 10 first, then the clip")
        config.rewardNormalization = RewardNormalization(mean: 1, std: 2)
        XCTAssertEqual(try shapeRewards([20, 0], config: config), [4.5, -5.5])
    }

    func testMicroBatchesAddUpToTheMiniBatch() throws {
        var rng = TestRNG(seed: 16)
        let shape = TokenShape(samples: 8, tokens: 6)
        let mask = rng.mask(shape)
        let old = (0..<shape.count).map { _ in -rng.uniform(0.1, 3) }
        let new = old.map { $0 + 0.4 * rng.normal() }
        let adv = (0..<shape.count).map { _ in rng.normal() }
        let ent = (0..<shape.count).map { _ in rng.uniform(0, 2) }
        for aggregation in LossAggregation.allCases {
            var config = RLConfig()
            config.aggregation = aggregation
            config.entropyCoef = 0.02
            let full = try policyLoss(
                PolicyLossInput(
                    shape: shape, mask: mask, logprobs: new, oldLogprobs: old,
                    advantages: adv, entropy: ent), config: config)
            let aggregator = LossAggregator(mode: aggregation, mask: mask, shape: shape)
            var loss = 0.0
            var grad: [Double] = []
            var metrics = PolicyMetrics()
            var parts: [LossAggregator] = []
            for micro in BatchConfig.split(0..<8, size: 3) {
                let rows = shape.elements(ofSamples: micro)
                XCTAssertEqual(rows, (micro.lowerBound * 6)..<(micro.upperBound * 6))
                let sub = TokenShape(samples: micro.count, tokens: 6)
                parts.append(LossAggregator(mode: aggregation, mask: Array(mask[rows]), shape: sub))
                let r = try policyLoss(
                    PolicyLossInput(
                        shape: sub, mask: Array(mask[rows]), logprobs: Array(new[rows]),
                        oldLogprobs: Array(old[rows]), advantages: Array(adv[rows]),
                        entropy: Array(ent[rows])),
                    config: config, aggregator: aggregator)
                loss += r.loss
                grad += r.gradLogprobs
                metrics.merge(r.metrics)
            }
            XCTAssertEqual(LossAggregator.combining(parts, mode: aggregation), aggregator)
            assertClose(loss, full.loss, tol: 1e-14, "\(aggregation) loss")
            assertClose(grad, full.gradLogprobs, tol: 1e-15, "\(aggregation) grad")
            XCTAssertEqual(metrics.tokens, full.metrics.tokens)
            assertClose(metrics.clipFraction, full.metrics.clipFraction, tol: 1e-15, "clip fraction")
            assertClose(metrics.approxKL, full.metrics.approxKL, tol: 1e-15, "approx kl")
        }
    }

    func testRolloutStatsAreMasked() throws {
        let shape = TokenShape(samples: 2, tokens: 3)
        let input = AdvantageInput(
            shape: shape, rewards: [1, 3], mask: [1.0, 1, 0, 1, 0, 0], logprobs: [-1, -1, -50, -1, 9, 9],
            refLogprobs: [-1.5, -0.5, 7, -1.25, 3, 3])
        var config = RLConfig(estimator: .reinforce, samplesPerPrompt: 1)
        config.klCoef = 0.1
        let d = try computeAdvantages(input, config: config)
        XCTAssertEqual(d.stats.responseLength, SummaryStats([2, 1]))
        XCTAssertEqual(d.stats.reward, SummaryStats([1, 3]))
        assertClose(d.stats.klPerToken.mean, (0.5 - 0.5 + 0.25) / 3, tol: 1e-15, "kl per token")
        assertClose(d.stats.klPerSample.mean, (0.0 + 0.25) / 2, tol: 1e-15, "kl per sample")
        XCTAssertEqual(d.stats.returns.count, 3, "returns counted on valid tokens only")
        // k1 = [0.5, -0.5, ·], [0.25, ·, ·]; token rewards [-0.05, 1.05, 0], [2.975, 0, 0].
        assertClose(d.returns, [1.0, 1.05, 0, 2.975, 0, 0], tol: 1e-12, "returns")
    }
}
