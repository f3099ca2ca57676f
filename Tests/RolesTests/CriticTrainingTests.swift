// PPO through the learner's Trainer: on a toy (reward 1 for a response containing token 5) the reward rises
// and the critic's value loss falls; a checkpoint of a PPO trainer restored into a fresh trainer gives the
// identical next update, bit for bit; a checkpoint without a critic is refused by a PPO run.
import Foundation
import Model
import RLCore
import RunKit
import TestKit
import Wire
import XCTest

@testable import Roles

final class CriticTrainingTests: XCTestCase {
    static let policyConfig = ModelConfig(
        hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 4,
        vocabSize: 16, maxPositionEmbeddings: 32)

    /// PPO settings for 16 prompts × 4 samples, two optimiser steps of 32 samples in micro-batches of 16.
    func ppoSettings(lr: Double = 1e-2, criticLR: Double? = 1e-2) throws -> LearnerSettings {
        var c = RunConfig()
        c.algorithm.estimator = .gae
        c.algorithm.rolloutBatch = 16
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 32
        c.algorithm.microBatch = 16
        c.algorithm.criticLR = criticLR
        c.kl.coef = 0
        c.optim.lr = lr
        c.run.iterations = 20
        return try LearnerSettings(config: c, endpoints: .inproc("unused"))
    }

    func freshTrainer(seed: UInt64, settings: LearnerSettings) throws -> Trainer {
        let model = try Transformer(config: Self.policyConfig)
        model.initializeWeights(seed: seed)
        let trainer = Trainer(settings: settings, model: model)
        try trainer.prepareCritic()
        return trainer
    }

    func testPPORaisesRewardAndLowersValueLoss() throws {
        let trainer = try freshTrainer(seed: 3, settings: try ppoSettings())
        XCTAssertNotNil(trainer.critic)
        var rewards: [Double] = []
        var valueLosses: [Double] = []
        var explained: [Double] = []
        var values: [Double] = []
        for it in 0..<16 {
            let report = try trainer.update(try sampleBatch(trainer.model, iteration: it))
            XCTAssertEqual(report.steps, 2)
            let m = try XCTUnwrap(report.extraMetrics)
            for key in [
                MetricName.criticValueLoss, MetricName.criticValueClipFraction, MetricName.criticExplainedVariance,
                MetricName.criticGradNorm,
            ] {
                XCTAssertTrue(m[key]?.isFinite ?? false, "\(key) in \(m)")
            }
            rewards.append(report.stats.reward.mean)
            valueLosses.append(m[MetricName.criticValueLoss]!)
            explained.append(m[MetricName.criticExplainedVariance]!)
            values.append(m[MetricName.criticValueMean]!)
        }
        func mean(_ a: ArraySlice<Double>) -> Double { a.reduce(0, +) / Double(a.count) }
        print("ppo toy: reward \(rewards.map { String(format: "%.2f", $0) })")
        print("ppo toy: value loss \(valueLosses.map { String(format: "%.3f", $0) })")
        print("ppo toy: explained variance \(explained.map { String(format: "%.2f", $0) })")
        XCTAssertGreaterThan(mean(rewards.suffix(3)), mean(rewards.prefix(3)) + 0.2, "reward \(rewards)")
        XCTAssertLessThan(mean(valueLosses.suffix(3)), 0.5 * mean(valueLosses.prefix(3)), "value loss \(valueLosses)")
        XCTAssertEqual(explained[0], 0, accuracy: 1e-12, "a zero head explains nothing at first")
        XCTAssertEqual(values[0], 0, "a zero head gives V = 0")
        XCTAssertGreaterThan(values.last!, 0.8 * mean(rewards.suffix(1)), "the values followed the returns: \(values)")
    }

    func testRestoredPPOTrainerGivesTheIdenticalNextUpdate() throws {
        let settings = try ppoSettings(lr: 3e-3, criticLR: 1e-2)
        let a = try freshTrainer(seed: 3, settings: settings)
        _ = try a.update(try sampleBatch(a.model, iteration: 0))
        _ = try a.update(try sampleBatch(a.model, iteration: 1))
        let dir = try temporaryDirectory("rpp-critic").appendingPathComponent("checkpoint")
        try a.save(directory: dir)
        for file in ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"] {
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: dir.appendingPathComponent("critic/\(file)").path), file)
        }
        let saved = try Transformer.load(directory: dir.appendingPathComponent("critic"))
        XCTAssertTrue(saved.config.scalarHead, "critic/ is a sequence-classification checkpoint")

        let b = try freshTrainer(seed: 77, settings: settings)  // other weights until restored
        try b.restore(directory: dir)
        XCTAssertEqual(b.iteration, 2)
        XCTAssertEqual(b.critic!.optimizer.step, a.critic!.optimizer.step)
        let next = try sampleBatch(a.model, iteration: 2)
        let ra = try a.update(next)
        let rb = try b.update(next)
        XCTAssertEqual(a.model.params.toArray(), b.model.params.toArray(), "policy bit for bit")
        XCTAssertEqual(a.critic!.model.params.toArray(), b.critic!.model.params.toArray(), "critic bit for bit")
        XCTAssertEqual(ra.loss, rb.loss)
        let timings: (String, Double) -> Bool = { key, _ in !key.hasPrefix("perf/") }
        XCTAssertEqual(ra.extraMetrics!.filter(timings), rb.extraMetrics!.filter(timings))
        XCTAssertEqual(ra.extraMetrics!.filter(timings).count, 7)
        XCTAssertNotEqual(ra.extraMetrics![MetricName.criticValueLoss], 0)
    }

    func testPPORunRefusesACheckpointWithoutCritic() throws {
        var c = try ppoSettings().run
        c.algorithm.estimator = .reinforce
        let reinforce = try freshTrainer(seed: 3, settings: try LearnerSettings(config: c, endpoints: .inproc("x")))
        XCTAssertNil(reinforce.critic)
        let dir = try temporaryDirectory("rpp-nocritic").appendingPathComponent("checkpoint")
        try reinforce.save(directory: dir)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("critic").path))
        let ppo = try freshTrainer(seed: 3, settings: try ppoSettings())
        XCTAssertThrowsError(try ppo.restore(directory: dir)) {
            XCTAssertTrue("\($0)".contains("critic/model.safetensors"), "\($0)")
        }
    }

    func testPolicyUpdateInsistsOnACriticForPPOOnly() throws {
        let settings = try ppoSettings()
        let t = try freshTrainer(seed: 3, settings: settings)
        let batch = try sampleBatch(t.model, iteration: 0)
        XCTAssertThrowsError(
            try PolicyUpdate.run(
                model: t.model, optimizer: t.optimizer, batch: batch, rl: settings.rl,
                sizes: settings.batch, temperature: 1, klCoef: 0, policyVersion: 0)
        ) {
            XCTAssertTrue("\($0)".contains("needs a critic"), "\($0)")
        }
        var rl = settings.rl
        rl.estimator = .reinforce
        XCTAssertThrowsError(
            try PolicyUpdate.run(
                model: t.model, optimizer: t.optimizer, batch: batch, rl: rl,
                sizes: settings.batch, temperature: 1, klCoef: 0, policyVersion: 0,
                critic: t.critic))
    }
}

extension CriticTrainingTests {
    /// Samples of an older policy version: logp_old is recomputed (the staleness path) and PPO still trains.
    func testStaleSamplesWithACritic() throws {
        var c = try ppoSettings().run
        c.algorithm.maxStaleness = 1
        c.algorithm.offPolicyCorrection = .tis
        let settings = try LearnerSettings(config: c, endpoints: .inproc("x"))
        let t = try freshTrainer(seed: 3, settings: settings)
        let report = try PolicyUpdate.run(
            model: t.model, optimizer: t.optimizer, batch: try sampleBatch(t.model, iteration: 0),
            rl: settings.rl, sizes: settings.batch, temperature: 1, klCoef: 0,
            policyVersion: 1, critic: t.critic)
        XCTAssertEqual(report.staleSamples, 64)
        XCTAssertTrue(report.loss.isFinite)
        XCTAssertTrue(report.extraMetrics?[MetricName.criticValueLoss]?.isFinite ?? false)
    }
}
