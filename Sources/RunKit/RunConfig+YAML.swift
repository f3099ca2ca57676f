import Foundation

extension RunConfig {
    /// The effective config as YAML, every key spelled out; `parse(yaml:)` of it gives an equal
    /// config. Written into the run directory as `config.yaml`.
    public var yaml: String {
        var out = "# Effective configuration of run '\(run.name)' (defaults and overrides applied).\n"
        func section(_ name: String, _ pairs: [(String, String?)]) {
            out += "\(name):\n"
            for (key, value) in pairs { if let value { out += "  \(key): \(value)\n" } }
        }
        section(
            "run",
            [
                ("name", q(run.name)), ("dir", q(run.dir)), ("seed", "\(run.seed)"),
                ("iterations", "\(run.iterations)"), ("max_minutes", n(run.maxMinutes)),
            ])
        section(
            "model",
            [
                ("init", q(model.initPath)), ("reference", q(model.reference)),
                ("critic_init", model.criticInit.map(q)), ("precision", model.precision.rawValue),
                ("learner_precision", model.learnerPrecision.rawValue),
                ("reference_precision", model.referencePrecision.rawValue),
                ("rollout_precision", model.rolloutPrecision.rawValue),
            ])
        section(
            "data",
            [
                ("task", data.task.rawValue), ("train", data.train.map(q)),
                ("validation", data.validation.map(q)), ("test", data.test.map(q)),
                ("input_key", q(data.inputKey)), ("label_key", q(data.labelKey)),
                ("apply_chat_template", "\(data.applyChatTemplate)"), ("system_prompt", data.systemPrompt.map(q)),
                ("max_prompt_tokens", data.maxPromptTokens.map { "\($0)" }),
                ("long_prompts", data.longPrompts.rawValue), ("heldout_fraction", n(data.heldoutFraction)),
                ("ops", list(data.ops.map(q))), ("operands", list(data.operands.map { "\($0)" })),
            ])
        let a = algorithm
        section(
            "algorithm",
            [
                ("estimator", a.estimator.rawValue), ("samples_per_prompt", "\(a.samplesPerPrompt)"),
                ("rollout_batch", "\(a.rolloutBatch)"), ("train_batch", "\(a.trainBatch)"),
                ("micro_batch", "\(a.microBatch)"), ("epochs", "\(a.epochs)"), ("gamma", n(a.gamma)),
                ("lambda", n(a.lambda)), ("eps_clip_low", n(a.epsClipLow)), ("eps_clip_high", n(a.epsClipHigh)),
                ("dual_clip", a.dualClip.map(n)), ("advantage_normalization", a.advantageNormalization.rawValue),
                ("reward_clip", list(a.rewardClip.map(n))), ("entropy_coef", n(a.entropyCoef)),
                ("max_staleness", "\(a.maxStaleness)"), ("off_policy_correction", a.offPolicyCorrection.rawValue),
                ("value_clip", n(a.valueClip)), ("critic_lr", a.criticLR.map(n)),
            ])
        section(
            "kl",
            [
                ("coef", n(kl.coef)), ("estimator", kl.estimator.rawValue),
                ("placement", kl.placement.rawValue), ("controller", kl.controller.rawValue),
                ("target", n(kl.target)), ("horizon", "\(kl.horizon)"),
            ])
        section(
            "optim",
            [
                ("lr", n(optim.lr)), ("betas", list(optim.betas.map(n))),
                ("weight_decay", n(optim.weightDecay)), ("grad_clip", n(optim.gradClip)),
                ("warmup_steps", "\(optim.warmupSteps)"), ("schedule", optim.schedule.rawValue),
                ("min_lr_ratio", n(optim.minLRRatio)),
            ])
        section(
            "sampling",
            [
                ("temperature", n(sampling.temperature)), ("top_p", n(sampling.topP)),
                ("top_k", "\(sampling.topK)"), ("max_new_tokens", "\(sampling.maxNewTokens)"),
                ("stop_tokens", sampling.stopTokens.map { list($0.map { "\($0)" }) }),
                ("stop", sampling.stop.isEmpty ? nil : list(sampling.stop.map(q))),
            ])
        section(
            "eval",
            [
                ("every", "\(eval.every)"), ("prompts", "\(eval.prompts)"), ("greedy", "\(eval.greedy)"),
                ("samples", "\(eval.samples)"),
            ])
        section("checkpoint", [("every", "\(checkpoint.every)"), ("keep", "\(checkpoint.keep)")])
        section(
            "cluster",
            [
                ("learner", q(cluster.learner)), ("reward", list(cluster.reward.map(q))),
                ("reference", list(cluster.reference.map(q))), ("key_file", cluster.keyFile.map(q)),
                ("encrypt", "\(cluster.encrypt)"),
                ("compression", cluster.compression.rawValue), ("weight_delta", "\(cluster.weightDelta)"),
                ("weights_socket", cluster.weightsSocket.rawValue),
                ("lease_seconds", n(cluster.leaseSeconds)),
                ("heartbeat_seconds", n(cluster.heartbeatSeconds)),
                ("request_timeout_seconds", n(cluster.requestTimeoutSeconds)),
                ("unit_prompts", "\(cluster.unitPrompts)"),
                ("max_unit_failures", "\(cluster.maxUnitFailures)"),
            ])
        section(
            "reward",
            [
                ("kind", reward.kind.rawValue), ("verifier", q(reward.verifier)),
                ("model", reward.model.map(q)), ("normalize", "\(reward.normalize)"),
                ("url", reward.url.map(q)), ("timeout_seconds", n(reward.timeoutSeconds)),
                ("retries", "\(reward.retries)"), ("fallback", n(reward.fallback)),
            ])
        return out
    }

    /// Writes `yaml` to `directory/config.yaml`, creating the directory; errors name the file and `setting`.
    public func write(toDirectory directory: String, setting: String = "run.dir") throws {
        try RunFile.makeDirectory(directory, setting: setting)
        let path = (directory as NSString).appendingPathComponent("config.yaml")
        try RunFile.writeAtomically(Array(yaml.utf8), to: path, setting: setting)
    }
}

/// A YAML double-quoted string.
private func q(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7f:
            out += String(format: "\\x%02X", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A number in the shortest form that reads back to the same Double.
private func n(_ x: Double) -> String { "\(x)" }

/// A YAML flow sequence.
private func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
