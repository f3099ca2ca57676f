import Foundation

// Each section reads its keys in file order; a key not read here is an unknown key.

extension RunConfig.RunSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        name = try r.string("name", d.name)
        dir = try r.string("dir", d.dir)
        seed = try r.int("seed", d.seed, .atLeast(0))
        iterations = try r.int("iterations", d.iterations, .atLeast(1))
        maxMinutes = try r.double("max_minutes", d.maxMinutes, .atLeast(0))
    }
}

extension RunConfig.ModelSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        initPath = try r.string("init", d.initPath)
        reference = try r.optionalString("reference") ?? initPath
        criticInit = try r.optionalString("critic_init")
    }
}

extension RunConfig.DataSection {
    /// The operations the arith task knows.
    static let knownOps = ["add", "sub", "mul"]

    init(reader r: inout SectionReader) throws {
        let d = Self()
        task = try r.choice("task", d.task)
        train = try r.optionalString("train")
        validation = try r.optionalString("validation")
        test = try r.optionalString("test")
        ops = try r.strings("ops", d.ops, allowed: Self.knownOps)
        promptWidth = try r.int("prompt_width", d.promptWidth, .atLeast(1))
    }
}

extension RunConfig.AlgorithmSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        estimator = try r.choice("estimator", d.estimator)
        samplesPerPrompt = try r.int("samples_per_prompt", d.samplesPerPrompt, .atLeast(1))
        rolloutBatch = try r.int("rollout_batch", d.rolloutBatch, .atLeast(1))
        trainBatch = try r.int("train_batch", d.trainBatch, .atLeast(1))
        microBatch = try r.int("micro_batch", d.microBatch, .atLeast(1))
        epochs = try r.int("epochs", d.epochs, .atLeast(1))
        gamma = try r.double("gamma", d.gamma, .closed(0, 1))
        lambda = try r.double("lambda", d.lambda, .closed(0, 1))
        epsClipLow = try r.double("eps_clip_low", d.epsClipLow, .open(0, 1))
        epsClipHigh = try r.double("eps_clip_high", d.epsClipHigh, .above(0))
        dualClip = try r.optionalDouble("dual_clip", .above(1))
        advantageNormalization = try r.choice("advantage_normalization", d.advantageNormalization)
        rewardClip = try r.doubles("reward_clip", d.rewardClip, count: 2)
        entropyCoef = try r.double("entropy_coef", d.entropyCoef, .atLeast(0))
        maxStaleness = try r.int("max_staleness", d.maxStaleness, .atLeast(0))
        offPolicyCorrection = try r.choice("off_policy_correction", d.offPolicyCorrection)
        valueClip = try r.double("value_clip", d.valueClip, .atLeast(0))
        criticLR = try r.optionalDouble("critic_lr", .open(0, 1))
    }
}

extension RunConfig.KLSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        coef = try r.double("coef", d.coef, .atLeast(0))
        estimator = try r.choice("estimator", d.estimator)
        placement = try r.choice("placement", d.placement)
        controller = try r.choice("controller", d.controller)
        target = try r.double("target", d.target, .above(0))
        horizon = try r.int("horizon", d.horizon, .atLeast(1))
    }
}

extension RunConfig.OptimSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        lr = try r.double("lr", d.lr, .open(0, 1))
        betas = try r.doubles("betas", d.betas, count: 2)
        weightDecay = try r.double("weight_decay", d.weightDecay, .atLeast(0))
        gradClip = try r.double("grad_clip", d.gradClip, .atLeast(0))
        warmupSteps = try r.int("warmup_steps", d.warmupSteps, .atLeast(0))
        schedule = try r.choice("schedule", d.schedule)
        minLRRatio = try r.double("min_lr_ratio", d.minLRRatio, .closed(0, 1))
    }
}

extension RunConfig.SamplingSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        temperature = try r.double("temperature", d.temperature, .above(0))
        topP = try r.double("top_p", d.topP, .openClosed(0, 1))
        topK = try r.int("top_k", d.topK, .atLeast(0))
        maxNewTokens = try r.int("max_new_tokens", d.maxNewTokens, .atLeast(1))
        stopTokens = try r.ints("stop_tokens", d.stopTokens, each: .atLeast(0))
    }
}

extension RunConfig.EvalSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        every = try r.int("every", d.every, .atLeast(0))
        prompts = try r.int("prompts", d.prompts, .atLeast(1))
        greedy = try r.bool("greedy", d.greedy)
    }
}

extension RunConfig.CheckpointSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        every = try r.int("every", d.every, .atLeast(0))
        keep = try r.int("keep", d.keep, .atLeast(1))
    }
}

extension RunConfig.ClusterSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        learner = try r.string("learner", d.learner)
        reward = try r.strings("reward", d.reward)
        reference = try r.strings("reference", d.reference)
        keyFile = try r.optionalGivenString("key_file", "is given with an empty value (an unset shell variable?); "
                                            + "give the path of the cluster key file, or leave the key out to run "
                                            + "without one")
        encrypt = try r.bool("encrypt", d.encrypt)
        compression = try r.choice("compression", d.compression)
        leaseSeconds = try r.double("lease_seconds", d.leaseSeconds, .above(0))
        heartbeatSeconds = try r.double("heartbeat_seconds", d.heartbeatSeconds, .above(0))
        requestTimeoutSeconds = try r.double("request_timeout_seconds", d.requestTimeoutSeconds, .above(0))
        unitPrompts = try r.int("unit_prompts", d.unitPrompts, .atLeast(1))
    }
}

extension RunConfig.RewardSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        kind = try r.choice("kind", d.kind)
        model = try r.optionalString("model")
        normalize = try r.bool("normalize", d.normalize)
    }
}
