// Seeded shuffles and held-out splits of a dataset, and the prompt-length limit.
import Foundation
import RunKit

/// A seeded order: a Fisher-Yates shuffle driven by SplitMix64, the same on every machine.
public struct SeededOrder: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `items` in the order of this seed.
    public mutating func shuffle<T>(_ items: [T]) -> [T] {
        var a = items
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }
}

extension PromptDataset {
    /// Splits `examples` into training and held-out sets: `fraction` of them (at least one when fraction > 0
    /// and there are two or more), chosen by `seed`; each part keeps the file's order.
    public static func holdOut<T>(_ examples: [T], fraction: Double, seed: UInt64) throws -> (train: [T], heldOut: [T])
    {
        guard fraction >= 0, fraction < 1 else {
            throw DatasetError("data.heldout_fraction \(fraction) must be in [0, 1)")
        }
        if fraction == 0 || examples.count < 2 { return (examples, []) }
        let k = min(examples.count - 1, max(1, Int((Double(examples.count) * fraction).rounded())))
        var order = SeededOrder(seed: seed)
        let held = Set(order.shuffle(Array(examples.indices)).prefix(k))
        var train: [T] = []
        var heldOut: [T] = []
        for (i, e) in examples.enumerated() { if held.contains(i) { heldOut.append(e) } else { train.append(e) } }
        return (train, heldOut)
    }
}

/// The prompt-length limit applied to tokenized prompts.
public struct PromptLengthLimit: Sendable, Equatable {
    public let maxTokens: Int
    /// What a longer prompt does (`data.long_prompts`): dropped and counted, or refused.
    public let policy: RunConfig.DataSection.LongPrompts

    public init(maxTokens: Int, policy: RunConfig.DataSection.LongPrompts) {
        self.maxTokens = maxTokens
        self.policy = policy
    }

    /// The indices of prompts within the limit and how many were dropped; with `.error`, the first
    /// over-long prompt is an error naming its id.
    public func apply(lengths: [Int], ids: [String]) throws -> (kept: [Int], dropped: Int) {
        var kept: [Int] = []
        for (i, n) in lengths.enumerated() {
            if n <= maxTokens {
                kept.append(i)
                continue
            }
            if policy == .error {
                throw DatasetError(
                    "\(ids[i]): the prompt has \(n) tokens, more than data.max_prompt_tokens \(maxTokens); "
                        + "raise the limit or set data.long_prompts: drop")
            }
        }
        return (kept, lengths.count - kept.count)
    }
}
