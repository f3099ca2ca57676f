import Foundation
import Wire

/// One deterministic example of every message kind: the content of the golden frames.
enum Examples {
    static let rollout = Rollout(
        unitID: 7, promptID: 1201, sampleIndex: 2, promptTokens: [0, 0, 5, 9, 12, 6, 10, 7, 15],
        responseTokens: [7, 4, 2, 1], behaviourLogprobs: [-0.25, -1.5, -0.03125, -0.5],
        finishReason: .stop, policyVersion: 3, workerID: "rollout-1")

    static let weights: [Float] = (0..<300).map { Float(sin(Double($0) * 0.37) * 0.05) }

    static let all: [WireMessage] = [
        .register(
            Register(
                workerID: "rollout-1", role: .rollout, host: "node-a", pid: 4242,
                address: "tcp://127.0.0.1:5601", wireVersions: [1], softwareVersion: "0.1.0")),
        .registerReply(
            RegisterReply(
                accepted: true, reason: "", policyVersion: 3,
                weightsAddress: "tcp://127.0.0.1:5602", leaseMillis: 30_000)),
        .heartbeat(
            Heartbeat(
                workerID: "rollout-1", role: .rollout, sequence: 99, policyVersion: 3,
                unixMillis: 1_795_000_000_000)),
        .status(
            Status(
                workerID: "learner", role: .learner, host: "node-a", pid: 4000, policyVersion: 3,
                state: "training", samplesPerSecond: 412.5, uptimeMillis: 61_000,
                unixMillis: 1_795_000_000_000, unitsDone: 12)),
        .workRequest(WorkRequest(workerID: "rollout-1", policyVersion: 3)),
        .workUnit(
            WorkUnit(
                id: 7, iteration: 2, minPolicyVersion: 3,
                sampling: SamplingParams(
                    temperature: 1, topP: 1, topK: 0, maxNewTokens: 6,
                    stopTokens: [1], seed: 1234),
                samplesPerPrompt: 4,
                prompts: [
                    Prompt(id: 1201, tokens: [0, 0, 5, 9, 12, 6, 10, 7, 15], answer: "522"),
                    Prompt(id: 1202, tokens: [0, 0, 0, 3, 12, 4, 15], answer: "7"),
                ],
                leaseMillis: 30_000)),
        .rollout(rollout),
        .scoreRequest(
            ScoreRequest(
                id: 55,
                items: [
                    ScoreItem(
                        promptTokens: [5, 12, 6, 15], responseTokens: [13, 1],
                        answer: "11")
                ])),
        .scoreReply(ScoreReply(id: 55, rewards: [1, 0, 0.5])),
        .refLogprobRequest(
            RefLogprobRequest(
                id: 56,
                sequences: [
                    TokenSequence(
                        promptTokens: [5, 12, 6, 15],
                        responseTokens: [3, 3, 1])
                ],
                temperature: 1)),
        .refLogprobReply(RefLogprobReply(id: 56, logprobs: [[-0.5, -0.75, -0.125]])),
        .experienceBatch(
            ExperienceBatch(
                unitID: 7, workerID: "rollout-1",
                items: [
                    Experience(
                        rollout: rollout, reward: 1,
                        refLogprobs: [-0.3, -1.25, -0.0625, -0.5])
                ])),
        .weightAnnouncement(
            WeightAnnouncement(
                policyVersion: 3, dtype: .float32, elementCount: 300, chunkCount: 2,
                chunkElements: 256, chunkChecksums: [0xAB01_CD02, 0x1234_5678],
                layout: [
                    TensorSpan(
                        name: "model.embed_tokens.weight",
                        shape: [10, 30], offset: 0)
                ])),
        // The committed frame of this chunk carries a byte-shuffled tensor in a compressed payload,
        // so the golden test also pins the filter and zstd paths of the decoder.
        .weightChunk(
            WeightChunk(
                policyVersion: 3, index: 0, count: 2, offset: 0,
                data: DenseTensor(floats: Array(weights[..<256])))),
        .error(
            RemoteError(
                code: .stale, message: "samples of policy version 1 are older than max_staleness 1",
                requestID: 9)),
        .clusterStatus(
            ClusterStatus(members: [
                Status(
                    workerID: "learner", role: .learner, host: "node-a", pid: 4000, policyVersion: 3,
                    state: "collecting",
                    samplesPerSecond: 1905, uptimeMillis: 61_000, unixMillis: 1_795_000_000_000, unitsDone: 96),
                Status(
                    workerID: "rollout-1", role: .rollout, host: "node-b", pid: 4242, policyVersion: 3,
                    state: "generating",
                    samplesPerSecond: 950.5, uptimeMillis: 58_000, unixMillis: 1_794_999_999_600, unitsDone: 48,
                    silentMillis: 400),
            ])),
        .unitFailure(
            UnitFailure(
                workerID: "rollout-1", unitID: 7, stage: .sample,
                message: "prompt 8 + max new tokens 5000 exceeds max_position_embeddings 64")),
        .weightProgress(
            WeightProgress(workerID: "rollout-1", receiverID: 0x0123_4567_89ab_cdef, policyVersion: 3, next: 8)),
    ]
}
