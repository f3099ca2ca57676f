// One vocabulary: the config's enum keys hold the types their libraries own (RLCore, Model, Wire), every value
// reads and writes under the library's own name, and a former name is refused with the name to use.
import Foundation
import Model
import RLCore
import Wire
import XCTest

@testable import RunKit

final class ConfigVocabularyTests: XCTestCase {
    private func configError(_ yaml: String, _ overrides: [String] = [], line: UInt = #line) -> ConfigError? {
        do {
            _ = try RunConfig.parse(yaml: yaml, overrides: overrides)
            XCTFail("expected a ConfigError", line: line)
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected \(error)", line: line)
        }
        return nil
    }

    func testFormerEstimatorNamesNameTheCurrentOne() throws {
        let allowed = "allowed: reinforce, reinforce_baseline, rloo, group_norm, dr_grpo, gae"
        for (old, current) in [("grpo", "group_norm"), ("ppo", "gae")] {
            let fromFile = try XCTUnwrap(configError("algorithm:\n  estimator: \(old)\n"))
            XCTAssertEqual(fromFile.key, "algorithm.estimator")
            XCTAssertEqual(fromFile.location, "config:2")
            XCTAssertTrue(fromFile.message.contains("'\(old)' is a former name: write '\(current)'"), "\(fromFile)")
            XCTAssertTrue(fromFile.message.hasSuffix(allowed), "\(fromFile)")
            let fromCommandLine = try XCTUnwrap(configError("", ["algorithm.estimator=\(old)"]))
            XCTAssertEqual(
                fromCommandLine.description,
                "command line: algorithm.estimator: value '\(old)' is a former name: write '\(current)' "
                    + "(the same setting under its current name); \(allowed)")
        }
        // Not a near miss of another estimator: 'grpo' is not taken for 'dr_grpo'.
        XCTAssertFalse(configError("", ["algorithm.estimator=grpo"])?.message.contains("dr_grpo'?") ?? true)
        // Former names are messages, not aliases, and only for the key they belonged to.
        XCTAssertTrue(
            configError("", ["kl.estimator=ppo"])?.message.hasPrefix("value 'ppo' is not allowed") ?? false)
        for (key, renames) in RunConfig.renamedValues {
            for (old, current) in renames {
                XCTAssertNotNil(configError("", ["\(key)=\(old)"]), "\(key)=\(old) must not load")
                XCTAssertNoThrow(
                    try RunConfig.parse(yaml: "", overrides: ["\(key)=\(current)"]), "\(key)=\(current) loads")
            }
        }
    }

    /// Every value of `E` given as `key=value` reads as that very library value (the property's type is the
    /// library's, so there is nothing to map), and the YAML the config writes reads back the same.
    private func assertEveryValue<E: RawRepresentable & CaseIterable & Equatable>(
        _ key: String, _ get: (RunConfig) -> E, with extra: [String] = [], line: UInt = #line
    ) throws where E.RawValue == String {
        XCTAssertFalse(E.allCases.isEmpty)
        for value in E.allCases {
            let config = try RunConfig.parse(yaml: "", overrides: extra + ["\(key)=\(value.rawValue)"])
            XCTAssertEqual(get(config), value, "\(key)=\(value.rawValue)", line: line)
            XCTAssertEqual(try RunConfig.parse(yaml: config.yaml), config, "\(key) round trip", line: line)
        }
    }

    func testEveryEnumKeyRoundTripsToItsLibraryType() throws {
        try assertEveryValue("algorithm.estimator", { (c: RunConfig) -> AdvantageEstimator in c.algorithm.estimator })
        try assertEveryValue("algorithm.estimator", { (c: RunConfig) -> AdvantageEstimator in c.rlConfig.estimator })
        try assertEveryValue(
            "algorithm.advantage_normalization",
            { (c: RunConfig) -> AdvantageNormalization in c.rlConfig.advantageNormalization })
        try assertEveryValue(
            "algorithm.off_policy_correction", { (c: RunConfig) -> OffPolicyCorrection in c.rlConfig.offPolicy })
        try assertEveryValue("kl.estimator", { (c: RunConfig) -> KLEstimator in c.rlConfig.klEstimator })
        try assertEveryValue(
            "kl.placement", { (c: RunConfig) -> KLPlacement in c.rlConfig.klPlacement }, with: ["kl.estimator=k3"])
        for key in ["precision", "learner_precision", "reference_precision", "rollout_precision"] {
            try assertEveryValue("model.\(key)") { (c: RunConfig) -> ModelPrecision in
                switch key {
                case "precision": return c.model.precision
                case "learner_precision": return c.model.learnerPrecision
                case "reference_precision": return c.model.referencePrecision
                default: return c.model.rolloutPrecision
                }
            }
        }
        try assertEveryValue("cluster.compression", { (c: RunConfig) -> Compression in c.cluster.compression })
    }

    func testTheRLCoreSettingsAreComposedFromTheSections() throws {
        let config = try RunConfig.parse(
            yaml: "",
            overrides: [
                "algorithm.estimator=dr_grpo", "algorithm.samples_per_prompt=8", "algorithm.lambda=0.9",
                "algorithm.eps_clip_low=0.1", "algorithm.eps_clip_high=0.28", "algorithm.dual_clip=3",
                "algorithm.reward_clip=[-2, 5]", "algorithm.value_clip=0", "algorithm.entropy_coef=0.01",
                "kl.coef=0.05", "kl.estimator=k2", "kl.placement=loss", "kl.controller=adaptive", "kl.target=2",
                "kl.horizon=500",
            ])
        let rl = config.rlConfig
        XCTAssertEqual(rl.estimator, .drGRPO)
        XCTAssertEqual(rl.samplesPerPrompt, 8)
        XCTAssertEqual(rl.lambda, 0.9)
        XCTAssertEqual([rl.epsLow, rl.epsHigh], [0.1, 0.28])
        XCTAssertEqual(rl.dualClip, 3)
        XCTAssertEqual(rl.rewardClip, ClipRange(-2, 5))
        XCTAssertNil(rl.valueClip, "value_clip 0 turns value clipping off")
        XCTAssertEqual(rl.entropyCoef, 0.01)
        XCTAssertEqual(rl.klCoef, 0.05)
        XCTAssertEqual(rl.klPlacement, .loss)
        XCTAssertEqual(rl.klTarget, 2)
        XCTAssertEqual(rl.klHorizon, 500)
        XCTAssertNil(RunConfig().rlConfig.klTarget, "a fixed controller has no target")
        XCTAssertEqual(
            config.batchConfig,
            BatchConfig(
                rolloutBatchSize: 128, samplesPerPrompt: 8, trainBatchSize: 256, microBatchSize: 256, maxEpochs: 1))
        XCTAssertNoThrow(try rl.validate(with: config.batchConfig))
    }

    func testRulesOfTheRLCoreFailAtLoadUnderConfigKeys() {
        let gamma = configError("", ["algorithm.estimator=rloo", "algorithm.gamma=0.99"])
        XCTAssertEqual(gamma?.key, "algorithm.gamma")
        XCTAssertTrue(gamma?.message.contains("set algorithm.gamma=1") ?? false, "\(gamma!)")
        let kl = configError("", ["kl.placement=loss"])
        XCTAssertEqual(kl?.key, "kl.estimator")
        XCTAssertTrue(kl?.message.contains("set kl.estimator=k2 or k3, or kl.placement=reward") ?? false, "\(kl!)")
        XCTAssertNoThrow(try RunConfig.parse(yaml: "", overrides: ["kl.placement=loss", "kl.estimator=k3"]))
        XCTAssertNoThrow(try RunConfig.parse(yaml: "", overrides: ["algorithm.estimator=gae", "algorithm.gamma=0.99"]))
    }

    func testDefaultsFillOnlyKeysTheTextLeavesOut() throws {
        let defaults = ["algorithm.train_batch=1", "algorithm.micro_batch=1"]
        let filled = try RunConfig.parse(
            yaml: "algorithm:\n  micro_batch: 2\n  train_batch: 4\n", overrides: ["algorithm.micro_batch=4"],
            defaults: defaults + ["kl.coef=0.5"])
        XCTAssertEqual(filled.algorithm.trainBatch, 4, "the text's value stays")
        XCTAssertEqual(filled.algorithm.microBatch, 4, "an override beats both")
        XCTAssertEqual(filled.kl.coef, 0.5, "a default fills a section the text leaves out")
        let small = try RunConfig.parse(
            yaml: "", overrides: ["algorithm.samples_per_prompt=3"], defaults: defaults)
        XCTAssertEqual(small.algorithm.trainBatch, 1)
        XCTAssertThrowsError(try RunConfig.parse(yaml: "", defaults: ["bogus.key=1"]))
    }

    func testOtherKeysAreLeftToTheCaller() throws {
        let text = #"{"algorithm": {"estimator": "rloo"}, "samples": [{"reward": 1}]}"#
        XCTAssertEqual(try RunConfig.parse(yaml: text, otherKeys: ["samples"]).algorithm.estimator, .rloo)
        XCTAssertEqual(configError(text)?.key, "samples")
    }
}
