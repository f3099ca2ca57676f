// The learner's training state, apart from any socket: the policy, its optimiser, the KL controller, the
// policy version and the data position. The learner drives it from rollout batches gathered off the network;
// `rpp replay` drives it from recorded batches; a resumed learner restores it from a checkpoint. One update
// is a pure function of (state, batch), so the same batches give the same weights bit for bit.
import Foundation
import Model
import RLCore
import RunKit

/// Policy, optimiser and counters of one run.
public final class Trainer: @unchecked Sendable {
    /// The settings the trainer was made with.
    public let settings: LearnerSettings
    /// The policy being trained.
    public let model: Transformer
    /// The config.json and companion files (tokenizer, chat template...) of the directory the policy was loaded
    /// from; every checkpoint keeps them (nil for a model made from scratch).
    public let checkpointSource: CheckpointSource?
    /// The policy's AdamW.
    let optimizer: AdamW
    /// The PPO critic (nil unless the estimator is gae); made by `prepareCritic()` (see Critic.swift).
    public private(set) var critic: Critic?
    /// Supplies β for the KL penalty.
    public private(set) var klController: any KLController
    /// Version of the current parameters (one per update).
    public private(set) var version: UInt64 = 0
    /// Iterations completed.
    public private(set) var iteration = 0
    /// The next work-unit id to hand out (with `iteration`, the data position of the run).
    public var nextUnitID: UInt64 = 1

    /// A fresh trainer for `model` (loaded with `source`, if from a directory) with the optimiser and KL
    /// controller the settings describe.
    public init(settings: LearnerSettings, model: Transformer, source: CheckpointSource? = nil) {
        self.settings = settings
        self.model = model
        model.usePrecision(settings.run.model.learnerPrecision)
        checkpointSource = source
        optimizer = Self.makeOptimizer(settings: settings, model: model, lr: settings.run.optim.lr)
        klController = settings.rl.makeKLController()
    }

    /// AdamW for `model` with the `optim` settings (betas, weight decay, clip, warmup, schedule over the run's
    /// optimiser steps) at learning rate `lr`: the policy's at `optim.lr`, the critic's at `algorithm.critic_lr`.
    static func makeOptimizer(settings: LearnerSettings, model: Transformer, lr: Double) -> AdamW {
        let o = settings.run.optim
        let total = settings.run.run.iterations * settings.run.optimizerStepsPerIteration
        return AdamW(
            model: model,
            schedule: LRSchedule(
                peak: Float(lr), warmupSteps: o.warmupSteps,
                cosineTotalSteps: o.schedule == .cosine ? total : nil,
                minRatio: Float(o.minLRRatio)),
            beta1: Float(o.betas[0]), beta2: Float(o.betas[1]), weightDecay: Float(o.weightDecay),
            clipNorm: o.gradClip > 0 ? Float(o.gradClip) : nil)
    }

    /// Makes the PPO critic if the run needs one and has none yet (from `model.critic_init`, else from the
    /// policy's current weights, so call it before the first update; `update` and `restore` call it too).
    public func prepareCritic() throws {
        guard settings.rl.estimator.needsCritic, critic == nil else { return }
        critic = try Critic.make(settings: settings, policy: model, policySource: checkpointSource)
    }

    /// The β of the next update.
    public var klCoef: Double { klController.value }

    /// One iteration's update from a complete rollout batch: advantages over all of it, the mini-batch steps,
    /// the KL controller, then the version and iteration counters move on by one.
    public func update(_ batch: RolloutBatch) throws -> UpdateReport {
        try prepareCritic()
        let report = try PolicyUpdate.run(
            model: model, optimizer: optimizer, batch: batch, rl: settings.rl,
            sizes: settings.batch, temperature: Float(settings.run.sampling.temperature),
            klCoef: klController.value, policyVersion: version, critic: critic)
        klController.update(currentKL: report.stats.klPerSample.mean, steps: batch.count)
        version += 1
        iteration += 1
        return report
    }

    /// SHA-256 of the parameters (the digest weight broadcasts and `rpp replay` print).
    public var parametersSHA256: [UInt8] { WeightDigest.sha256(model.params.toArray()) }

    /// Writes weights (HF safetensors), optimiser moments and the trainer state into `directory`, and the
    /// critic's into `directory/critic` (PPO). config.json keeps the starting directory's fields and its
    /// companion files are copied, so a checkpoint loads in transformers with its tokenizer.
    public func save(directory: URL) throws {
        try prepareCritic()  // a PPO checkpoint always holds its critic, even one saved before the first update
        try model.save(directory: directory, source: checkpointSource)
        try critic?.save(directory: directory.appendingPathComponent(Self.criticDirectory))
        try model.saveTrainingState(
            optimizer,
            extra: [
                "iteration": "\(iteration)", "policy_version": "\(version)", "next_unit_id": "\(nextUnitID)",
                "kl_coef": "\(klController.value)", "seed": "\(settings.run.run.seed)",
                "estimator": settings.run.algorithm.estimator.rawValue,
            ], directory: directory)
    }

    /// Restores what `save(directory:)` wrote: weights, optimiser, iteration, version, data position and β
    /// (and the critic, PPO). Throws `RolesError(.invalidConfig)` when the checkpoint does not fit this run's
    /// model, seed or estimator.
    public func restore(directory: URL) throws {
        if settings.rl.estimator.needsCritic {
            let dir = directory.appendingPathComponent(Self.criticDirectory)
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path) else {
                throw RolesError(
                    .invalidConfig,
                    "checkpoint \(directory.path) has no \(Self.criticDirectory)/model.safetensors: "
                        + "it was not written by a PPO run, and this run (algorithm.estimator gae) needs its critic")
            }
            // The checkpoint's own critic (not model.critic_init, which a replaying machine may not have).
            if critic == nil {
                let saved: (model: Transformer, source: CheckpointSource)
                do { saved = try Transformer.loadCheckpoint(directory: dir) } catch {
                    throw RolesError(.invalidConfig, "critic checkpoint \(dir.path): \(error)")
                }
                saved.model.usePrecision(settings.run.model.learnerPrecision)
                critic = try Critic(
                    model: saved.model,
                    optimizer: Critic.optimizer(settings: settings, model: saved.model),
                    source: saved.source)
            }
            try critic!.restore(directory: dir)
        }
        let file = try SafetensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
        try model.loadWeights(from: file)
        let extra = try model.loadTrainingState(optimizer, directory: directory)
        func field<T: LosslessStringConvertible>(_ key: String) throws -> T {
            guard let text = extra[key], let value = T(text) else {
                throw RolesError(
                    .invalidConfig,
                    "checkpoint \(directory.path): trainer_state.json has no valid \(key); it was not written by a learner"
                )
            }
            return value
        }
        let seed: Int = try field("seed")
        guard seed == settings.run.run.seed else {
            throw RolesError(
                .invalidConfig,
                "checkpoint \(directory.path) is from a run with seed \(seed), this run has run.seed \(settings.run.run.seed)"
            )
        }
        // A checkpoint written before an estimator was renamed records the former name; it is the same estimator.
        let recorded: String = try field("estimator")
        let estimator = RunConfig.renamedValues["algorithm.estimator"]?[recorded] ?? recorded
        guard estimator == settings.run.algorithm.estimator.rawValue else {
            throw RolesError(
                .invalidConfig,
                "checkpoint \(directory.path) is from a run with algorithm.estimator \(estimator), "
                    + "this run has \(settings.run.algorithm.estimator.rawValue): resume with the same estimator, or start "
                    + "a new run from its weights with model.init=\(directory.path)")
        }
        iteration = try field("iteration")
        version = try field("policy_version")
        nextUnitID = try field("next_unit_id")
        let beta: Double = try field("kl_coef")
        var rl = settings.rl
        rl.klCoef = beta
        klController = rl.makeKLController()
    }

    /// The critic's subdirectory of a checkpoint.
    public static let criticDirectory = "critic"

    /// The newest `iter-NNNNNN` checkpoint under `runDirectory/checkpoints`, if any.
    public static func latestCheckpoint(runDirectory: String) -> URL? {
        RunCheckpoints.latest(runDirectory: runDirectory)
    }
}
