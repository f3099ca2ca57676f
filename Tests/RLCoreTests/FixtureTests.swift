// Cases computed by an independent numpy implementation (Tests/Scripts/make_rl_fixtures.py), checked in Double
// at 1e-9 and in Float at a tolerance that fits single precision.
import TestKit
import XCTest

@testable import RLCore

final class FixtureTests: XCTestCase {
    func testKLEstimatorsAgainstNumpy() throws {
        for c in try loadCases("kl.json") {
            let estimator = try XCTUnwrap(KLEstimator(rawValue: try c.string("estimator")))
            let logp = try c.vector("logprobs")
            let ref = try c.vector("ref_logprobs")
            let mask = try c.vector("mask")
            let kl = try computeKL(
                logprobs: logp, refLogprobs: ref, mask: mask,
                shape: TokenShape(samples: 1, tokens: logp.count), estimator: estimator)
            assertClose(kl, try c.vector("expected"), tol: 1e-12, "kl \(estimator)")
        }
    }

    private func advantageConfig(_ c: [String: Any]) throws -> RLConfig {
        var config = RLConfig(
            estimator: try XCTUnwrap(AdvantageEstimator(rawValue: try c.string("estimator"))),
            samplesPerPrompt: Int(try c.double("n")))
        config.gamma = try c.double("gamma")
        config.lambda = try c.double("lambda")
        config.klCoef = try c.double("kl_coef")
        config.klEstimator = try XCTUnwrap(KLEstimator(rawValue: try c.string("kl_estimator")))
        config.advantageNormalization = try XCTUnwrap(AdvantageNormalization(rawValue: try c.string("normalize")))
        let clip = try c.vector("reward_clip")
        config.rewardClip = ClipRange(clip[0], clip[1])
        config.advantageClip = try c.double("advantage_clip")
        if let norm = c["reward_normalization"] as? [Double] {
            config.rewardNormalization = RewardNormalization(mean: norm[0], std: norm[1])
        }
        if let placement = c["kl_placement"] as? String {
            config.klPlacement = try XCTUnwrap(KLPlacement(rawValue: placement))
        }
        return config
    }

    func testAdvantagesAgainstNumpy() throws {
        let cases = try loadCases("advantages.json")
        XCTAssertEqual(
            Set(cases.map { $0["estimator"] as? String ?? "" }),
            Set(AdvantageEstimator.allCases.map(\.rawValue)), "every estimator has fixtures")
        for c in cases {
            let name = try c.string("name")
            let config = try advantageConfig(c)
            let (mask, shape) = try c.matrix("mask")
            let input = AdvantageInput(
                shape: shape, rewards: try c.vector("rewards"), mask: mask,
                logprobs: try c.matrix("logprobs").values,
                refLogprobs: try c.matrix("ref_logprobs").values,
                values: try c.optionalMatrix("values"))
            let expected = try c.object("expected")
            let d = try computeAdvantages(input, config: config)
            assertClose(d.shapedRewards, try expected.vector("shaped_rewards"), tol: 1e-9, "\(name) shaped")
            for (key, got) in [
                ("kl", d.kl), ("token_rewards", d.tokenRewards), ("returns", d.returns),
                ("advantages", d.advantages),
            ] {
                assertClose(got, try expected.matrix(key).values, tol: 1e-9, "\(name) \(key)")
            }
            let floatInput = AdvantageInput(
                shape: shape, rewards: input.rewards, mask: mask.map(Float.init),
                logprobs: input.logprobs.map(Float.init),
                refLogprobs: input.refLogprobs?.map(Float.init),
                values: input.values?.map(Float.init))
            let f = try computeAdvantages(floatInput, config: config)
            for (key, got) in [
                ("kl", f.kl), ("token_rewards", f.tokenRewards), ("returns", f.returns),
                ("advantages", f.advantages),
            ] {
                assertClose(got, try expected.matrix(key).values, tol: 2e-5, "\(name) \(key) (Float)")
            }
        }
    }

    private func policyInput(_ c: [String: Any]) throws -> (PolicyLossInput<Double>, RLConfig) {
        var config = RLConfig()
        config.epsLow = try c.double("eps_low")
        config.epsHigh = try c.double("eps_high")
        config.dualClip = c.optionalDouble("dual_clip")
        config.entropyCoef = c.optionalDouble("entropy_coef") ?? 0
        config.klCoef = c.optionalDouble("kl_coef") ?? 0
        if let a = c["aggregation"] as? String { config.aggregation = try XCTUnwrap(LossAggregation(rawValue: a)) }
        if let o = c["off_policy"] as? String { config.offPolicy = try XCTUnwrap(OffPolicyCorrection(rawValue: o)) }
        if let r = c["off_policy_range"] as? [Double] { config.offPolicyRange = ClipRange(r[0], r[1]) }
        if let p = c["kl_placement"] as? String { config.klPlacement = try XCTUnwrap(KLPlacement(rawValue: p)) }
        if let e = c["kl_estimator"] as? String { config.klEstimator = try XCTUnwrap(KLEstimator(rawValue: e)) }
        let (mask, shape) = try c.matrix("mask")
        let input = PolicyLossInput(
            shape: shape, mask: mask, logprobs: try c.matrix("logprobs").values,
            oldLogprobs: try c.matrix("old_logprobs").values,
            advantages: try c.matrix("advantages").values,
            behaviourLogprobs: try c.optionalMatrix("behaviour_logprobs"),
            refLogprobs: try c.optionalMatrix("ref_logprobs"),
            entropy: try c.optionalMatrix("entropy"))
        return (input, config)
    }

    func testPolicyLossAgainstNumpy() throws {
        for c in try loadCases("policy_loss.json") {
            let name = try c.string("name")
            let (input, config) = try policyInput(c)
            let expected = try c.object("expected")
            let d = try policyLoss(input, config: config)
            assertClose(d.loss, try expected.double("loss"), tol: 1e-10, "\(name) loss")
            assertClose(d.policyLoss, try expected.double("policy_loss"), tol: 1e-10, "\(name) policy part")
            assertClose(d.klLoss, try expected.double("kl_loss"), tol: 1e-10, "\(name) kl part")
            assertClose(d.entropy, try expected.double("entropy"), tol: 1e-10, "\(name) entropy part")
            assertClose(d.gradLogprobs, try expected.matrix("grad_logprobs").values, tol: 1e-10, "\(name) grad")
            if let ge = try expected.optionalMatrix("grad_entropy") {
                assertClose(try XCTUnwrap(d.gradEntropy), ge, tol: 1e-12, "\(name) grad entropy")
            } else {
                XCTAssertNil(d.gradEntropy, name)
            }
            assertClose(
                d.metrics.clipFraction, try expected.double("clip_fraction"), tol: 1e-12, "\(name) clip fraction")
            assertClose(
                d.metrics.dualClipFraction, try expected.double("dual_clip_fraction"), tol: 1e-12, "\(name) dual")
            assertClose(d.metrics.approxKL, try expected.double("approx_kl"), tol: 1e-10, "\(name) approx kl")
            // The Float path: same numbers at single precision.
            func float(_ x: [Double]?) -> [Float]? { x?.map(Float.init) }
            let f = try policyLoss(
                PolicyLossInput(
                    shape: input.shape, mask: float(input.mask)!,
                    logprobs: float(input.logprobs)!, oldLogprobs: float(input.oldLogprobs)!,
                    advantages: float(input.advantages)!,
                    behaviourLogprobs: float(input.behaviourLogprobs),
                    refLogprobs: float(input.refLogprobs), entropy: float(input.entropy)),
                config: config)
            assertClose(f.loss, try expected.double("loss"), tol: 1e-5, "\(name) loss (Float)")
            assertClose(f.gradLogprobs, try expected.matrix("grad_logprobs").values, tol: 1e-5, "\(name) grad (Float)")
        }
    }

    func testValueLossAgainstNumpy() throws {
        for c in try loadCases("value_loss.json") {
            let name = try c.string("name")
            var config = RLConfig()
            config.valueClip = c.optionalDouble("value_clip")
            if let a = c["aggregation"] as? String { config.aggregation = try XCTUnwrap(LossAggregation(rawValue: a)) }
            let (mask, shape) = try c.matrix("mask")
            let input = ValueLossInput(
                shape: shape, mask: mask, values: try c.matrix("values").values,
                oldValues: try c.matrix("old_values").values, returns: try c.matrix("returns").values)
            let expected = try c.object("expected")
            let d = try valueLoss(input, config: config)
            assertClose(d.loss, try expected.double("loss"), tol: 1e-10, "\(name) loss")
            assertClose(d.gradValues, try expected.matrix("grad_values").values, tol: 1e-10, "\(name) grad")
            assertClose(
                d.metrics.clipFraction, try expected.double("clip_fraction"), tol: 1e-12, "\(name) clip fraction")
            let f = try valueLoss(
                ValueLossInput(
                    shape: shape, mask: mask.map(Float.init), values: input.values.map(Float.init),
                    oldValues: input.oldValues.map(Float.init),
                    returns: input.returns.map(Float.init)), config: config)
            assertClose(f.loss, try expected.double("loss"), tol: 1e-5, "\(name) loss (Float)")
            assertClose(f.gradValues, try expected.matrix("grad_values").values, tol: 1e-5, "\(name) grad (Float)")
        }
    }

    /// The `rpp inspect advantages` examples: their expected outputs (numpy) agree with the core.
    func testCLIExampleFixturesAgreeWithCore() throws {
        let names = [
            "worked-case-1-k1", "worked-case-1-k2", "worked-case-2-3", "worked-case-4-rloo",
            "worked-case-4-reinforce_baseline", "worked-case-4-group_norm", "example-gae",
        ]
        for name in names {
            let doc = try XCTUnwrap(try loadFixture("\(name).json") as? [String: Any])
            let expected = try XCTUnwrap(
                (try loadFixture("\(name).expected.json") as? [String: Any])?["samples"]
                    as? [[String: Any]])
            let samples = try XCTUnwrap(doc["samples"] as? [[String: Any]])
            let t = try samples[0].vector("mask").count
            // The settings are run-config sections (algorithm.*, kl.*), holding the RL core's own names.
            let algorithm = try XCTUnwrap(doc["algorithm"] as? [String: Any])
            let kl = try XCTUnwrap(doc["kl"] as? [String: Any])
            var config = RLConfig(
                estimator: try XCTUnwrap(AdvantageEstimator(rawValue: try algorithm.string("estimator"))),
                samplesPerPrompt: Int(try algorithm.double("samples_per_prompt")))
            config.gamma = try algorithm.double("gamma")
            config.lambda = try algorithm.double("lambda")
            config.klCoef = try kl.double("coef")
            config.klEstimator = try XCTUnwrap(KLEstimator(rawValue: try kl.string("estimator")))
            let input = AdvantageInput(
                shape: TokenShape(samples: samples.count, tokens: t),
                rewards: try samples.map { try $0.double("reward") },
                mask: try samples.flatMap { try $0.vector("mask") },
                logprobs: try samples.flatMap { try $0.vector("logprobs") },
                refLogprobs: try samples.flatMap { try $0.vector("ref_logprobs") },
                values: config.estimator == .gae ? try samples.flatMap { try $0.vector("values") } : nil)
            let d = try computeAdvantages(input, config: config)
            for key in ["kl", "token_rewards", "returns", "advantages"] {
                let got: [Double] =
                    key == "kl"
                    ? d.kl
                    : key == "token_rewards"
                        ? d.tokenRewards
                        : key == "returns" ? d.returns : d.advantages
                assertClose(got, try expected.flatMap { try $0.vector(key) }, tol: 1e-9, "\(name) \(key)")
            }
        }
    }
}
