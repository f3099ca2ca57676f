// Test helpers: a seeded generator and builders of prompts, samples and experience batches.
import Model
import Wire

@testable import Roles

/// The project's seeded generator, so property tests replay exactly.
typealias SeededRNG = Xoshiro256

func makePrompts(_ count: Int, firstID: UInt64 = 100) -> [Prompt] {
    (0..<count).map { i in Prompt(id: firstID + UInt64(i), tokens: [0, 0, 3, 12, 4, 15], answer: "3") }
}

/// One sample of `promptID` with `length` response tokens; log-probs derived from the indices.
func makeExperience(
    unitID: UInt64, promptID: UInt64, sample: Int, length: Int = 3, version: UInt64 = 0,
    worker: String = "w", withRef: Bool = true, reward: Float = 1
) -> Experience {
    let tokens = (0..<length).map { Int32(2 + ($0 + sample) % 10) }
    let logp = (0..<length).map { -Float($0 + 1) * 0.1 - Float(sample) * 0.01 }
    let r = Rollout(
        unitID: unitID, promptID: promptID, sampleIndex: sample, promptTokens: [0, 3, 12, 4, 15],
        responseTokens: tokens, behaviourLogprobs: logp, finishReason: .length,
        policyVersion: version, workerID: worker)
    return Experience(rollout: r, reward: reward, refLogprobs: withRef ? logp.map { $0 - 0.05 } : nil)
}

/// A full delivery of `unit`: n samples for each of its prompts.
func makeBatch(_ unit: WorkUnit, worker: String, version: UInt64 = 0, lengths: (Int, Int) -> Int = { _, _ in 3 })
    -> ExperienceBatch
{
    var items: [Experience] = []
    for (p, prompt) in unit.prompts.enumerated() {
        for s in 0..<unit.samplesPerPrompt {
            items.append(
                makeExperience(
                    unitID: unit.id, promptID: prompt.id, sample: s, length: lengths(p, s),
                    version: version, worker: worker))
        }
    }
    return ExperienceBatch(unitID: unit.id, workerID: worker, items: items)
}

func makeLedger(
    prompts: Int = 10, unitSize: Int = 4, n: Int = 2, lease: Millis = 1000,
    firstUnitID: UInt64 = 1
) throws -> WorkLedger {
    try WorkLedger(
        iteration: 7, prompts: makePrompts(prompts), unitSize: unitSize, samplesPerPrompt: n,
        sampling: SamplingParams(maxNewTokens: 6), leaseMillis: lease, minPolicyVersion: 3,
        firstUnitID: firstUnitID)
}

func makeAssembler(
    promptIDs: [UInt64], n: Int = 2, version: UInt64 = 10, staleness: UInt64? = 2,
    ref: Bool = true
) throws -> BatchAssembler {
    try BatchAssembler(
        iteration: 7, promptOrder: promptIDs,
        config: .init(
            samplesPerPrompt: n, maxResponseTokens: 6, requireRefLogprobs: ref,
            policyVersion: version, maxStaleness: staleness))
}
