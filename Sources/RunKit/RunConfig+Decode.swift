import Foundation

// Each section reads its keys in file order; a key not read here is an unknown key.

extension RunConfig.RunSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        name = try r.string("name", d.name)
        dir = try r.string("dir", d.dir)
        seed = try r.int("seed", d.seed, .closed(0, Limits.seed))
        iterations = try r.int("iterations", d.iterations, .closed(1, Limits.count))
        maxMinutes = try r.double("max_minutes", d.maxMinutes, .closed(0, Limits.minutes))
    }
}

extension RunConfig.ModelSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        initPath = try r.string("init", d.initPath)
        reference = try r.optionalString("reference") ?? initPath
        criticInit = try r.optionalString("critic_init")
        precision = try r.choice("precision", d.precision)
        learnerPrecision = try r.choice("learner_precision", precision)
        referencePrecision = try r.choice("reference_precision", precision)
        rolloutPrecision = try r.choice("rollout_precision", precision)
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
        inputKey = try r.string("input_key", d.inputKey)
        labelKey = try r.string("label_key", d.labelKey)
        applyChatTemplate = try r.bool("apply_chat_template", d.applyChatTemplate)
        systemPrompt = try r.optionalString("system_prompt")
        maxPromptTokens = try r.optionalInt("max_prompt_tokens", .closed(1, Limits.tokens))
        longPrompts = try r.choice("long_prompts", d.longPrompts)
        heldoutFraction = try r.double("heldout_fraction", d.heldoutFraction, .closedOpen(0, 1))
        ops = try r.strings("ops", d.ops, allowed: Self.knownOps)
        operands = try r.ints("operands", d.operands, each: .closed(0, 1_000_000_000))
        guard operands.count == 2, operands[0] <= operands[1] else {
            throw r.fail("operands", nil, "give two numbers [low, high] with low <= high, found \(operands)")
        }
    }
}

extension RunConfig.DataSection {
    /// The longest prompt of a run, in tokens: `max_prompt_tokens` when given, else 8 for the arith toy (its
    /// longest prompt, "999+999="), else what the model's positions leave after `max_new_tokens`.
    public func promptLimit(positions: Int, maxNewTokens: Int) -> Int {
        maxPromptTokens ?? (task == .arith ? 8 : max(1, positions - maxNewTokens))
    }
}

extension RunConfig.AlgorithmSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        estimator = try r.choice("estimator", d.estimator)
        samplesPerPrompt = try r.int(
            "samples_per_prompt", d.samplesPerPrompt,
            .closed(1, Limits.samplesPerPrompt))
        rolloutBatch = try r.int("rollout_batch", d.rolloutBatch, .closed(1, Limits.prompts))
        trainBatch = try r.int("train_batch", d.trainBatch, .closed(1, Limits.samples))
        microBatch = try r.int("micro_batch", d.microBatch, .closed(1, Limits.samples))
        epochs = try r.int("epochs", d.epochs, .closed(1, Limits.epochs))
        gamma = try r.double("gamma", d.gamma, .closed(0, 1))
        lambda = try r.double("lambda", d.lambda, .closed(0, 1))
        epsClipLow = try r.double("eps_clip_low", d.epsClipLow, .open(0, 1))
        epsClipHigh = try r.double("eps_clip_high", d.epsClipHigh, .openClosed(0, Limits.factor))
        dualClip = try r.optionalDouble("dual_clip", .openClosed(1, Limits.factor))
        advantageNormalization = try r.choice("advantage_normalization", d.advantageNormalization)
        rewardClip = try r.doubles(
            "reward_clip", d.rewardClip, count: 2,
            each: .closed(-Limits.magnitude, Limits.magnitude))
        entropyCoef = try r.double("entropy_coef", d.entropyCoef, .closed(0, Limits.factor))
        maxStaleness = try r.int("max_staleness", d.maxStaleness, .closed(0, Limits.count))
        offPolicyCorrection = try r.choice("off_policy_correction", d.offPolicyCorrection)
        valueClip = try r.double("value_clip", d.valueClip, .closed(0, Limits.magnitude))
        criticLR = try r.optionalDouble("critic_lr", .open(0, 1))
    }
}

extension RunConfig.KLSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        coef = try r.double("coef", d.coef, .closed(0, Limits.factor))
        estimator = try r.choice("estimator", d.estimator)
        placement = try r.choice("placement", d.placement)
        controller = try r.choice("controller", d.controller)
        target = try r.double("target", d.target, .openClosed(0, Limits.magnitude))
        horizon = try r.int("horizon", d.horizon, .closed(1, Limits.count))
    }
}

extension RunConfig.OptimSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        lr = try r.double("lr", d.lr, .open(0, 1))
        betas = try r.doubles("betas", d.betas, count: 2, each: .closedOpen(0, 1))
        weightDecay = try r.double("weight_decay", d.weightDecay, .closed(0, Limits.factor))
        gradClip = try r.double("grad_clip", d.gradClip, .closed(0, Limits.magnitude))
        warmupSteps = try r.int("warmup_steps", d.warmupSteps, .closed(0, Limits.count))
        schedule = try r.choice("schedule", d.schedule)
        minLRRatio = try r.double("min_lr_ratio", d.minLRRatio, .closed(0, 1))
    }
}

extension RunConfig.SamplingSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        temperature = try r.double("temperature", d.temperature, .openClosed(0, Limits.factor))
        topP = try r.double("top_p", d.topP, .openClosed(0, 1))
        topK = try r.int("top_k", d.topK, .closed(0, Limits.vocabulary))
        maxNewTokens = try r.int("max_new_tokens", d.maxNewTokens, .closed(1, Limits.tokens))
        stopTokens = try r.optionalInts("stop_tokens", each: .closedOpen(0, Limits.vocabulary))
        stop = try r.strings("stop", d.stop)
        if let empty = stop.firstIndex(where: \.isEmpty) {
            throw ConfigError(key: "sampling.stop", message: "entry \(empty) is empty; a stop string needs text")
        }
    }
}

extension RunConfig.EvalSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        every = try r.int("every", d.every, .closed(0, Limits.count))
        prompts = try r.int("prompts", d.prompts, .closed(1, Limits.prompts))
        greedy = try r.bool("greedy", d.greedy)
        samples = try r.int("samples", d.samples, .closed(0, 1_000))
    }
}

extension RunConfig.CheckpointSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        every = try r.int("every", d.every, .closed(0, Limits.count))
        keep = try r.int("keep", d.keep, .closed(1, Limits.checkpoints))
    }
}

extension RunConfig.ClusterSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        learner = try r.string("learner", d.learner)
        reward = try r.strings("reward", d.reward)
        reference = try r.strings("reference", d.reference)
        keyFile = try r.optionalGivenString(
            "key_file",
            "is given with an empty value (an unset shell variable?); "
                + "give the path of the cluster key file, or leave the key out to run "
                + "without one")
        encrypt = try r.bool("encrypt", d.encrypt)
        compression = try r.choice("compression", d.compression)
        weightDelta = try r.bool("weight_delta", d.weightDelta)
        weightsSocket = try r.choice("weights_socket", d.weightsSocket)
        leaseSeconds = try r.double("lease_seconds", d.leaseSeconds, Limits.seconds)
        heartbeatSeconds = try r.double("heartbeat_seconds", d.heartbeatSeconds, Limits.seconds)
        requestTimeoutSeconds = try r.double("request_timeout_seconds", d.requestTimeoutSeconds, Limits.seconds)
        unitPrompts = try r.int("unit_prompts", d.unitPrompts, .closed(1, Limits.prompts))
        maxUnitFailures = try r.int("max_unit_failures", d.maxUnitFailures, .closed(1, 10_000))
    }
}

extension RunConfig.RewardSection {
    init(reader r: inout SectionReader) throws {
        let d = Self()
        kind = try r.choice("kind", d.kind)
        verifier = try r.string("verifier", d.verifier)
        model = try r.optionalString("model")
        normalize = try r.bool("normalize", d.normalize)
        url = try r.optionalString("url")
        timeoutSeconds = try r.double("timeout_seconds", d.timeoutSeconds, Limits.seconds)
        retries = try r.int("retries", d.retries, .closed(0, 100))
        fallback = try r.double("fallback", d.fallback, .closed(-Limits.magnitude, Limits.magnitude))
    }
}
