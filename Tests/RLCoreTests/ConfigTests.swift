// Validation of RLConfig and BatchConfig (each error names the setting and says what to change), optimiser
// step counts, batch splitting, and the KL controllers.
import TestKit
import XCTest

@testable import RLCore

final class ConfigTests: XCTestCase {
    private func assertConfigError(
        _ body: @autoclosure () throws -> Void, field: String, mentions: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? RLConfigError else {
                return XCTFail("expected RLConfigError, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(e.field, field, file: file, line: line)
            XCTAssertTrue(
                e.description.contains(mentions), "'\(e)' should mention '\(mentions)'", file: file, line: line)
        }
    }

    func testDefaultsAreValid() throws {
        try RLConfig().validate()
        try BatchConfig.paperDefaults.validate(for: .reinforce)
        try RLConfig().validate(with: .paperDefaults)
        for e in AdvantageEstimator.allCases { try RLConfig(estimator: e, samplesPerPrompt: 4).validate() }
    }

    func testRLConfigErrors() {
        assertConfigError(
            try RLConfig(estimator: .rloo, samplesPerPrompt: 1).validate(),
            field: "n_samples_per_prompt", mentions: "set n_samples_per_prompt to 2 or more")
        assertConfigError(
            try RLConfig(estimator: .groupNorm, samplesPerPrompt: 1).validate(),
            field: "n_samples_per_prompt", mentions: "group_norm")
        var c = RLConfig()
        c.klCoef = -0.1
        assertConfigError(try c.validate(), field: "kl_coef", mentions: "negative")
        c = RLConfig()
        c.entropyCoef = -1
        assertConfigError(try c.validate(), field: "entropy_coef", mentions: "negative")
        c = RLConfig()
        c.epsLow = 1.2
        assertConfigError(try c.validate(), field: "eps_clip_low", mentions: "[0, 1)")
        c = RLConfig()
        c.epsHigh = -0.1
        assertConfigError(try c.validate(), field: "eps_clip_high", mentions: "negative")
        c = RLConfig()
        c.dualClip = 0.9
        assertConfigError(try c.validate(), field: "dual_clip", mentions: "greater than 1")
        c = RLConfig()
        c.gamma = 1.5
        assertConfigError(try c.validate(), field: "gamma", mentions: "[0, 1]")
        c = RLConfig(estimator: .rloo, samplesPerPrompt: 4)
        c.gamma = 0.99
        assertConfigError(try c.validate(), field: "gamma", mentions: "set gamma to 1")
        c = RLConfig()
        c.lambda = .nan
        assertConfigError(try c.validate(), field: "lambda", mentions: "finite")
        c = RLConfig()
        c.klPlacement = .loss
        assertConfigError(try c.validate(), field: "kl_estimator", mentions: "k2 or k3")
        c = RLConfig()
        c.rewardClip = ClipRange(5, -5)
        assertConfigError(try c.validate(), field: "reward_clip", mentions: "low bound")
        c = RLConfig()
        c.advantageClip = 0
        assertConfigError(try c.validate(), field: "advantage_clip", mentions: "positive")
        c = RLConfig()
        c.valueClip = -0.5
        assertConfigError(try c.validate(), field: "value_clip", mentions: "positive")
        c = RLConfig()
        c.offPolicyRange = ClipRange(2, 1)
        assertConfigError(try c.validate(), field: "off_policy_range", mentions: "low < high")
        c = RLConfig()
        c.klTarget = -1
        assertConfigError(try c.validate(), field: "kl_target", mentions: "positive")
        c = RLConfig()
        c.rewardNormalization = RewardNormalization(mean: 0, std: 0)
        assertConfigError(try c.validate(), field: "reward_normalization.std", mentions: "positive")
        assertConfigError(
            try RLConfig(estimator: .reinforce, samplesPerPrompt: 8).validate(with: .paperDefaults),
            field: "n_samples_per_prompt", mentions: "use one value")
    }

    func testBatchConfigErrors() {
        func batch(_ r: Int, _ n: Int, _ t: Int, _ m: Int, _ e: Int = 1) -> BatchConfig {
            BatchConfig(rolloutBatchSize: r, samplesPerPrompt: n, trainBatchSize: t, microBatchSize: m, maxEpochs: e)
        }
        assertConfigError(
            try batch(256, 4, 100, 10).validate(), field: "train_batch_size", mentions: "does not divide the 1024")
        assertConfigError(try batch(256, 4, 100, 10).validate(), field: "train_batch_size", mentions: "e.g. 128")
        assertConfigError(try batch(8, 4, 64, 8).validate(), field: "train_batch_size", mentions: "at most 32")
        assertConfigError(
            try batch(256, 4, 128, 48).validate(), field: "micro_train_batch_size", mentions: "does not divide")
        assertConfigError(
            try batch(256, 4, 128, 256).validate(), field: "micro_train_batch_size", mentions: "larger than")
        assertConfigError(try batch(0, 4, 128, 16).validate(), field: "rollout_batch_size", mentions: "at least 1")
        assertConfigError(try batch(256, 4, 128, 16, 0).validate(), field: "max_epochs", mentions: "at least 1")
        assertConfigError(
            try batch(256, 1, 128, 16).validate(for: .rloo), field: "n_samples_per_prompt", mentions: "rloo")
        XCTAssertNoThrow(try batch(256, 1, 128, 16).validate(for: .reinforce))
    }

    func testOptimizerStepsAndSplitting() throws {
        let b = BatchConfig(
            rolloutBatchSize: 256, samplesPerPrompt: 4, trainBatchSize: 128, microBatchSize: 32, maxEpochs: 2)
        try b.validate()
        XCTAssertEqual(b.samplesPerIteration, 1024)
        XCTAssertEqual(b.optimizerStepsPerIteration, 16, "2 · 256 · 4 / 128")
        XCTAssertEqual(b.microBatchesPerStep, 4)
        let minis = b.miniBatches()
        XCTAssertEqual(minis.count, 8)
        XCTAssertEqual(minis.first, 0..<128)
        XCTAssertEqual(minis.last, 896..<1024)
        XCTAssertEqual(b.microBatches(of: 128..<256), [128..<160, 160..<192, 192..<224, 224..<256])
        let schedule = b.schedule()
        XCTAssertEqual(schedule.count, b.optimizerStepsPerIteration)
        XCTAssertEqual(schedule[8].epoch, 1)
        XCTAssertEqual(schedule[8].samples, 0..<128)
        XCTAssertEqual(schedule.map(\.index), Array(0..<16))
        XCTAssertEqual(BatchConfig.split(0..<10, size: 4), [0..<4, 4..<8, 8..<10])
        XCTAssertEqual(BatchConfig.split(3..<3, size: 4), [])
        XCTAssertEqual(BatchConfig.split(0..<5, size: 0), [0..<5])
    }

    func testAdaptiveKLControllerByHand() {
        var kl = AdaptiveKLController(initial: 0.1, target: 6, horizon: 10_000)
        kl.update(currentKL: 9, steps: 256)  // error clamp(0.5) = 0.2: × (1 + 0.2·256/10000)
        assertClose(kl.value, 0.1 * 1.00512, tol: 1e-15, "above target")
        kl.update(currentKL: 5.4, steps: 256)  // error -0.1: × (1 - 0.1·256/10000)
        assertClose(kl.value, 0.1 * 1.00512 * 0.99744, tol: 1e-15, "below target")
        kl.update(currentKL: .nan, steps: 256)
        assertClose(kl.value, 0.1 * 1.00512 * 0.99744, tol: 1e-15, "NaN ignored")
        var fixed = FixedKLController(value: 0.01)
        fixed.update(currentKL: 100, steps: 1000)
        XCTAssertEqual(fixed.value, 0.01)
        var c = RLConfig()
        XCTAssertTrue(c.makeKLController() is FixedKLController)
        c.klTarget = 0.1
        XCTAssertTrue(c.makeKLController() is AdaptiveKLController)
    }

    func testInputErrorsNameTheArray() {
        let shape = TokenShape(samples: 2, tokens: 3)
        let ok = [Double](repeating: 0, count: 6)
        var config = RLConfig(estimator: .rloo, samplesPerPrompt: 4)
        XCTAssertThrowsError(
            try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: [1, 2], mask: ok, logprobs: ok,
                    refLogprobs: ok), config: config)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "rewards", "2 samples is not a multiple of n = 4")
        }
        config = RLConfig(estimator: .gae, samplesPerPrompt: 1)
        XCTAssertThrowsError(
            try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: [1, 2], mask: ok, logprobs: ok,
                    refLogprobs: ok), config: config)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "values")
        }
        XCTAssertThrowsError(
            try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: [1, 2], mask: [1], logprobs: ok,
                    refLogprobs: ok, values: ok), config: config)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "mask")
        }
        XCTAssertThrowsError(
            try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: [1, .nan], mask: ok, logprobs: ok,
                    refLogprobs: ok, values: ok), config: config)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "rewards[1]")
        }
        XCTAssertThrowsError(
            try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: [1, 2], mask: ok, logprobs: ok,
                    values: ok), config: config)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "ref_logprobs", "β > 0 needs reference log-probs")
        }
        // Non-finite inputs on valid tokens are named with their [row][position]; on padding they are ignored.
        var nanLogp = ok
        nanLogp[5] = .nan
        let mask: [Double] = [1, 1, 0, 1, 1, 1]
        XCTAssertThrowsError(
            try computeAdvantages(
                AdvantageInput(
                    shape: shape, rewards: [1, 2], mask: mask,
                    logprobs: nanLogp, refLogprobs: ok, values: ok),
                config: config)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "logprobs[1][2]")
        }
        var infAdvantage = ok
        infAdvantage[4] = .infinity
        XCTAssertThrowsError(
            try policyLoss(
                PolicyLossInput(
                    shape: shape, mask: mask, logprobs: ok, oldLogprobs: ok,
                    advantages: infAdvantage), config: RLConfig())
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "advantages[1][1]")
        }
        infAdvantage[2] = .infinity  // padding: ignored
        infAdvantage[4] = 0
        XCTAssertNoThrow(
            try policyLoss(
                PolicyLossInput(
                    shape: shape, mask: mask, logprobs: ok, oldLogprobs: ok,
                    advantages: infAdvantage), config: RLConfig()))
        XCTAssertThrowsError(
            try valueLoss(
                ValueLossInput(
                    shape: shape, mask: mask, values: nanLogp, oldValues: ok,
                    returns: ok), config: RLConfig())
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "values[1][2]")
        }
        var loss = RLConfig()
        loss.offPolicy = .tis
        XCTAssertThrowsError(
            try policyLoss(
                PolicyLossInput(
                    shape: shape, mask: ok, logprobs: ok, oldLogprobs: ok,
                    advantages: ok), config: loss)
        ) {
            XCTAssertEqual(($0 as? RLInputError)?.field, "behaviour_logprobs")
        }
    }
}
