// The RL core's settings composed from the `algorithm` and `kl` sections. The sections hold RLCore's own
// enums, so values pass through unchanged; only the layout differs (two sections here, one RLConfig there).
import RLCore

extension RunConfig {
    /// The RL core's algorithm settings of this run: estimator, group size, discount, clipping, KL and
    /// off-policy correction. `parse` and `validate()` check that the RL core accepts them.
    public var rlConfig: RLConfig {
        let a = algorithm
        var rl = RLConfig(estimator: a.estimator, samplesPerPrompt: a.samplesPerPrompt)
        rl.gamma = a.gamma
        rl.lambda = a.lambda
        rl.epsLow = a.epsClipLow
        rl.epsHigh = a.epsClipHigh
        rl.dualClip = a.dualClip
        rl.entropyCoef = a.entropyCoef
        rl.valueClip = a.valueClip > 0 ? a.valueClip : nil
        rl.advantageNormalization = a.advantageNormalization
        rl.offPolicy = a.offPolicyCorrection
        if a.rewardClip.count == 2 { rl.rewardClip = ClipRange(a.rewardClip[0], a.rewardClip[1]) }
        rl.klCoef = kl.coef
        rl.klEstimator = kl.estimator
        rl.klPlacement = kl.placement
        if kl.controller == .adaptive {
            rl.klTarget = kl.target
            rl.klHorizon = Double(kl.horizon)
        }
        return rl
    }

    /// The RL core's batch sizes of one iteration (rollout, train and micro batch, epochs).
    public var batchConfig: BatchConfig {
        let a = algorithm
        return BatchConfig(
            rolloutBatchSize: a.rolloutBatch, samplesPerPrompt: a.samplesPerPrompt,
            trainBatchSize: a.trainBatch, microBatchSize: a.microBatch, maxEpochs: a.epochs)
    }

    /// The RL core's own check of `rlConfig` and `batchConfig`, after the config's checks that name keys; a
    /// rule only the core knows still fails at load time rather than when the learner starts.
    func validateRLCore(_ fail: (String, String) -> ConfigError) throws {
        do {
            try rlConfig.validate(with: batchConfig)
        } catch let error as RLConfigError {
            throw fail("algorithm", "the RL core refuses these settings: \(error)")
        }
    }
}
