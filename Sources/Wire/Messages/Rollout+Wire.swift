/// Longest token sequence a message may carry: far above any context rpp trains, far below memory trouble.
let maxSequenceTokens = WireLimits.maxSequenceTokens

func checkTokens(_ tokens: [Int32], _ field: String) throws(FrameError) {
    guard tokens.count <= maxSequenceTokens else {
        throw .invariant(field, "\(tokens.count) tokens; at most \(maxSequenceTokens) are allowed")
    }
    if let bad = tokens.firstIndex(where: { $0 < 0 }) {
        throw .invariant(field, "token \(bad) is negative (\(tokens[bad]))")
    }
}

extension SamplingParams {
    init(wire w: Rpp_V1_SamplingParams) throws(FrameError) {
        guard w.temperature.isFinite, w.temperature >= 0 else {
            throw .invariant("sampling.temperature", "is \(w.temperature), expected ≥ 0")
        }
        guard w.topP > 0, w.topP <= 1 else { throw .invariant("sampling.top_p", "is \(w.topP), expected in (0, 1]") }
        guard w.topK >= 0 else { throw .invariant("sampling.top_k", "is \(w.topK), expected ≥ 0") }
        guard w.maxNewTokens >= 1, w.maxNewTokens <= maxSequenceTokens else {
            throw .invariant("sampling.max_new_tokens", "is \(w.maxNewTokens), expected 1...\(maxSequenceTokens)")
        }
        try checkTokens(w.stopTokens, "sampling.stop_tokens")
        self.init(
            temperature: w.temperature, topP: w.topP, topK: Int(w.topK), maxNewTokens: Int(w.maxNewTokens),
            stopTokens: w.stopTokens, seed: w.seed)
    }

    var wire: Rpp_V1_SamplingParams {
        var w = Rpp_V1_SamplingParams()
        w.temperature = temperature
        w.topP = topP
        w.topK = Int32(clamping: topK)
        w.maxNewTokens = Int32(clamping: maxNewTokens)
        w.stopTokens = stopTokens
        w.seed = seed
        return w
    }
}

extension WorkUnit {
    init(wire w: Rpp_V1_WorkUnit) throws(FrameError) {
        guard !w.prompts.isEmpty else { throw .invariant("work_unit.prompts", "is empty: a work unit needs prompts") }
        guard w.hasSampling else { throw .invariant("work_unit.sampling", "is missing") }
        guard w.samplesPerPrompt >= 1, w.samplesPerPrompt <= WireLimits.maxSamplesPerPrompt else {
            throw .invariant(
                "work_unit.samples_per_prompt",
                "is \(w.samplesPerPrompt), expected 1...\(WireLimits.maxSamplesPerPrompt)")
        }
        var prompts: [Prompt] = []
        prompts.reserveCapacity(w.prompts.count)
        for (i, p) in w.prompts.enumerated() {
            guard !p.tokens.isEmpty else { throw .invariant("work_unit.prompts[\(i)].tokens", "is empty") }
            try checkTokens(p.tokens, "work_unit.prompts[\(i)].tokens")
            prompts.append(Prompt(id: p.promptID, tokens: p.tokens, answer: p.answer))
        }
        self.init(
            id: w.unitID, iteration: w.iteration, minPolicyVersion: w.minPolicyVersion,
            sampling: try SamplingParams(wire: w.sampling), samplesPerPrompt: Int(w.samplesPerPrompt),
            prompts: prompts, leaseMillis: w.leaseMs)
    }

    var wire: Rpp_V1_WorkUnit {
        var w = Rpp_V1_WorkUnit()
        w.unitID = id
        w.iteration = iteration
        w.minPolicyVersion = minPolicyVersion
        w.sampling = sampling.wire
        w.samplesPerPrompt = UInt32(clamping: samplesPerPrompt)
        w.leaseMs = leaseMillis
        w.prompts = prompts.map { p in
            var q = Rpp_V1_Prompt()
            q.promptID = p.id
            q.tokens = p.tokens
            q.answer = p.answer
            return q
        }
        return w
    }
}

extension WorkRequest {
    init(wire w: Rpp_V1_WorkRequest) throws(FrameError) {
        guard !w.workerID.isEmpty else { throw .invariant("work_request.worker_id", "is empty") }
        guard w.missingChunks.count <= Self.maxMissingChunks else {
            throw .invariant(
                "work_request.missing_chunks", "names \(w.missingChunks.count) chunks, at most \(Self.maxMissingChunks)"
            )
        }
        self.init(
            workerID: w.workerID, policyVersion: w.policyVersion, partialVersion: w.partialVersion,
            missingChunks: w.missingChunks.map { Int($0) }, repairOnly: w.repairOnly)
    }

    var wire: Rpp_V1_WorkRequest {
        var w = Rpp_V1_WorkRequest()
        w.workerID = workerID
        w.policyVersion = policyVersion
        w.partialVersion = partialVersion
        w.missingChunks = missingChunks.map { UInt32(clamping: $0) }
        w.repairOnly = repairOnly
        return w
    }
}

extension UnitFailure {
    /// Longest failure message kept on the wire (a longer one is cut).
    static let maxMessageBytes = 4096

    init(wire w: Rpp_V1_UnitFailure) throws(FrameError) {
        guard !w.workerID.isEmpty else { throw .invariant("unit_failure.worker_id", "is empty") }
        guard let stage = Stage(rawValue: w.stage) else {
            throw .invariant(
                "unit_failure.stage",
                "is '\(w.stage)', expected one of "
                    + Stage.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard w.message.utf8.count <= Self.maxMessageBytes else {
            throw .invariant(
                "unit_failure.message", "has \(w.message.utf8.count) bytes, at most \(Self.maxMessageBytes)")
        }
        self.init(workerID: w.workerID, unitID: w.unitID, stage: stage, message: w.message)
    }

    var wire: Rpp_V1_UnitFailure {
        var w = Rpp_V1_UnitFailure()
        w.workerID = workerID
        w.unitID = unitID
        w.stage = stage.rawValue
        w.message = String(decoding: message.utf8.prefix(Self.maxMessageBytes), as: UTF8.self)
        return w
    }
}

extension Rollout {
    init(wire w: Rpp_V1_Rollout, field: String = "rollout") throws(FrameError) {
        try checkTokens(w.promptTokens, "\(field).prompt_tokens")
        try checkTokens(w.responseTokens, "\(field).response_tokens")
        guard !w.responseTokens.isEmpty else { throw .invariant("\(field).response_tokens", "is empty") }
        guard w.hasBehaviourLogprobs else { throw .invariant("\(field).behaviour_logprobs", "is missing") }
        let logprobs = try DenseTensor.floats(
            wire: w.behaviourLogprobs, field: "\(field).behaviour_logprobs",
            count: w.responseTokens.count)
        if let bad = logprobs.firstIndex(where: { !($0 <= 0) }) {
            throw .invariant("\(field).behaviour_logprobs", "element \(bad) is \(logprobs[bad]); log-probs are ≤ 0")
        }
        let reason: FinishReason
        switch w.finishReason {
        case .stop: reason = .stop
        case .length: reason = .length
        case .unspecified: throw .invariant("\(field).finish_reason", "is unspecified")
        case .UNRECOGNIZED(let raw): throw .invariant("\(field).finish_reason", "unknown value \(raw)")
        }
        guard !w.workerID.isEmpty else { throw .invariant("\(field).worker_id", "is empty") }
        self.init(
            unitID: w.unitID, promptID: w.promptID, sampleIndex: Int(w.sampleIndex), promptTokens: w.promptTokens,
            responseTokens: w.responseTokens, behaviourLogprobs: logprobs, finishReason: reason,
            policyVersion: w.policyVersion, workerID: w.workerID)
    }

    var wire: Rpp_V1_Rollout {
        var w = Rpp_V1_Rollout()
        w.unitID = unitID
        w.promptID = promptID
        w.sampleIndex = UInt32(clamping: sampleIndex)
        w.promptTokens = promptTokens
        w.responseTokens = responseTokens
        w.behaviourLogprobs = DenseTensor(floats: behaviourLogprobs).wire
        w.finishReason = finishReason == .stop ? .stop : .length
        w.policyVersion = policyVersion
        w.workerID = workerID
        return w
    }
}

extension ScoreRequest {
    init(wire w: Rpp_V1_ScoreRequest) throws(FrameError) {
        guard !w.items.isEmpty else { throw .invariant("score_request.items", "is empty: nothing to score") }
        var items: [ScoreItem] = []
        for (i, item) in w.items.enumerated() {
            try checkTokens(item.promptTokens, "score_request.items[\(i)].prompt_tokens")
            try checkTokens(item.responseTokens, "score_request.items[\(i)].response_tokens")
            items.append(
                ScoreItem(
                    promptTokens: item.promptTokens, responseTokens: item.responseTokens,
                    answer: item.answer))
        }
        self.init(id: w.requestID, items: items)
    }

    var wire: Rpp_V1_ScoreRequest {
        var w = Rpp_V1_ScoreRequest()
        w.requestID = id
        w.items = items.map { item in
            var s = Rpp_V1_ScoreItem()
            s.promptTokens = item.promptTokens
            s.responseTokens = item.responseTokens
            s.answer = item.answer
            return s
        }
        return w
    }
}

extension ScoreReply {
    init(wire w: Rpp_V1_ScoreReply) throws(FrameError) {
        if let bad = w.rewards.firstIndex(where: { !$0.isFinite }) {
            throw .invariant("score_reply.rewards", "element \(bad) is \(w.rewards[bad]), not a finite number")
        }
        self.init(id: w.requestID, rewards: w.rewards)
    }

    var wire: Rpp_V1_ScoreReply {
        var w = Rpp_V1_ScoreReply()
        w.requestID = id
        w.rewards = rewards
        return w
    }
}

extension RefLogprobRequest {
    init(wire w: Rpp_V1_RefLogprobRequest) throws(FrameError) {
        guard !w.sequences.isEmpty else { throw .invariant("ref_logprob_request.sequences", "is empty") }
        guard w.temperature.isFinite, w.temperature > 0 else {
            throw .invariant("ref_logprob_request.temperature", "is \(w.temperature), expected > 0")
        }
        var sequences: [TokenSequence] = []
        for (i, s) in w.sequences.enumerated() {
            try checkTokens(s.promptTokens, "ref_logprob_request.sequences[\(i)].prompt_tokens")
            try checkTokens(s.responseTokens, "ref_logprob_request.sequences[\(i)].response_tokens")
            sequences.append(TokenSequence(promptTokens: s.promptTokens, responseTokens: s.responseTokens))
        }
        self.init(id: w.requestID, sequences: sequences, temperature: w.temperature)
    }

    var wire: Rpp_V1_RefLogprobRequest {
        var w = Rpp_V1_RefLogprobRequest()
        w.requestID = id
        w.temperature = temperature
        w.sequences = sequences.map { s in
            var t = Rpp_V1_TokenSequence()
            t.promptTokens = s.promptTokens
            t.responseTokens = s.responseTokens
            return t
        }
        return w
    }
}

extension RefLogprobReply {
    init(wire w: Rpp_V1_RefLogprobReply) throws(FrameError) {
        var all: [[Float]] = []
        for (i, t) in w.logprobs.enumerated() {
            let tensor = try DenseTensor(wire: t, field: "ref_logprob_reply.logprobs[\(i)]")
            guard tensor.dtype == .float32, tensor.shape.count == 1, let values = tensor.floats else {
                throw .invariant("ref_logprob_reply.logprobs[\(i)]", "expected a 1-D float32 tensor")
            }
            all.append(values)
        }
        self.init(id: w.requestID, logprobs: all)
    }

    var wire: Rpp_V1_RefLogprobReply {
        var w = Rpp_V1_RefLogprobReply()
        w.requestID = id
        w.logprobs = logprobs.map { DenseTensor(floats: $0).wire }
        return w
    }
}

extension ExperienceBatch {
    init(wire w: Rpp_V1_ExperienceBatch) throws(FrameError) {
        guard !w.items.isEmpty else { throw .invariant("experience_batch.items", "is empty: an empty batch") }
        guard !w.workerID.isEmpty else { throw .invariant("experience_batch.worker_id", "is empty") }
        var items: [Experience] = []
        items.reserveCapacity(w.items.count)
        for (i, e) in w.items.enumerated() {
            let field = "experience_batch.items[\(i)]"
            guard e.hasRollout else { throw .invariant("\(field).rollout", "is missing") }
            let rollout = try Rollout(wire: e.rollout, field: "\(field).rollout")
            guard e.reward.isFinite else { throw .invariant("\(field).reward", "is \(e.reward), not finite") }
            var ref: [Float]?
            if e.hasRefLogprobs {
                ref = try DenseTensor.floats(
                    wire: e.refLogprobs, field: "\(field).ref_logprobs",
                    count: rollout.responseTokens.count)
            }
            items.append(Experience(rollout: rollout, reward: e.reward, refLogprobs: ref))
        }
        self.init(unitID: w.unitID, workerID: w.workerID, items: items)
    }

    var wire: Rpp_V1_ExperienceBatch {
        var w = Rpp_V1_ExperienceBatch()
        w.unitID = unitID
        w.workerID = workerID
        w.items = items.map { e in
            var x = Rpp_V1_Experience()
            x.rollout = e.rollout.wire
            x.reward = e.reward
            if let ref = e.refLogprobs { x.refLogprobs = DenseTensor(floats: ref).wire }
            return x
        }
        return w
    }
}
