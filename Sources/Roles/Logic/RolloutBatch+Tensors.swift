// RolloutBatch → RLCore: lays an assembled rollout batch out as right-padded B×T arrays (T = the longest
// response): mask, behaviour and reference log-probs, rewards, and the token rows (prompt + response) the
// model scores with `Transformer.sequenceLogProbs`; and maps per-token outputs back. Padding is 0 and the
// mask is 0 there, so nothing computed on padding can reach a sample.

import RLCore
import Wire

/// One iteration's samples, in prompt order then sample index (each prompt's n samples contiguous).
public struct RolloutBatch: Sendable, Equatable {
    /// The iteration.
    public var iteration: UInt64
    /// n.
    public var samplesPerPrompt: Int
    /// B samples.
    public var experiences: [Experience]

    /// Creates a batch; `experiences` must already be ordered.
    public init(iteration: UInt64, samplesPerPrompt: Int, experiences: [Experience]) {
        self.iteration = iteration
        self.samplesPerPrompt = samplesPerPrompt
        self.experiences = experiences
    }

    /// B.
    public var count: Int { experiences.count }

    /// The padded arrays of this batch.
    public func tensors() -> RolloutTensors {
        let lengths = experiences.map(\.rollout.responseTokens.count)
        let T = lengths.max() ?? 0
        let shape = TokenShape(samples: count, tokens: T)
        var mask = [Float](repeating: 0, count: shape.count)
        var logp = mask
        let hasRef = !experiences.isEmpty && experiences.allSatisfy { $0.refLogprobs != nil }
        var ref = hasRef ? mask : nil
        for (b, e) in experiences.enumerated() {
            for t in 0..<lengths[b] {
                mask[b * T + t] = 1
                logp[b * T + t] = e.rollout.behaviourLogprobs[t]
                if hasRef { ref![b * T + t] = e.refLogprobs![t] }
            }
        }
        return RolloutTensors(
            shape: shape, responseLengths: lengths,
            promptLengths: experiences.map(\.rollout.promptTokens.count),
            sequences: experiences.map { $0.rollout.promptTokens + $0.rollout.responseTokens },
            mask: mask, behaviourLogprobs: logp, refLogprobs: ref,
            rewards: experiences.map { Double($0.reward) },
            policyVersions: experiences.map(\.rollout.policyVersion))
    }
}

/// A rollout batch as B×T row-major arrays for RLCore and the model.
public struct RolloutTensors: Sendable, Equatable {
    /// B×T, T the longest response.
    public var shape: TokenShape
    /// Response length of each sample.
    public var responseLengths: [Int]
    /// Prompt length of each sample.
    public var promptLengths: [Int]
    /// Prompt + response tokens of each sample (unpadded), for `sequenceLogProbs`.
    public var sequences: [[Int32]]
    /// 1 on response tokens, 0 on padding.
    public var mask: [Float]
    /// Behaviour-policy log-probs: the workers', at sampling time, 0 on padding. The off-policy correction and
    /// the sampling/training mismatch read them; a recompute of logp_old never replaces them.
    public var behaviourLogprobs: [Float]
    /// logp_old, the log-probs of the policy the update starts from, 0 on padding: the behaviour log-probs
    /// until `recomputeOldLogprobs` replaces them with the learner's (stale samples, max_staleness > 0).
    public private(set) var oldLogprobs: [Float]
    /// Reference log-probs, 0 on padding; nil unless every sample has them.
    public var refLogprobs: [Float]?
    /// Scalar reward of each sample.
    public var rewards: [Double]
    /// Policy version that generated each sample.
    public var policyVersions: [UInt64]

    /// Makes the arrays of a batch; logp_old starts as the behaviour log-probs.
    init(
        shape: TokenShape, responseLengths: [Int], promptLengths: [Int], sequences: [[Int32]], mask: [Float],
        behaviourLogprobs: [Float], oldLogprobs: [Float]? = nil, refLogprobs: [Float]?, rewards: [Double],
        policyVersions: [UInt64]
    ) {
        self.shape = shape
        self.responseLengths = responseLengths
        self.promptLengths = promptLengths
        self.sequences = sequences
        self.mask = mask
        self.behaviourLogprobs = behaviourLogprobs
        self.oldLogprobs = oldLogprobs ?? behaviourLogprobs
        self.refLogprobs = refLogprobs
        self.rewards = rewards
        self.policyVersions = policyVersions
    }

    /// Replaces logp_old with `logprobs` (a B×T array, 0 on padding); the behaviour log-probs stay.
    public mutating func recomputeOldLogprobs(_ logprobs: [Float]) throws(RolesError) {
        guard logprobs.count == shape.count else {
            throw RolesError(
                .shapeMismatch, "\(logprobs.count) old log-probs for a \(shape.samples)×\(shape.tokens) batch")
        }
        oldLogprobs = logprobs
    }

    /// The input of `computeAdvantages`: the KL term reads logp_old.
    public func advantageInput() -> AdvantageInput<Float> {
        AdvantageInput(shape: shape, rewards: rewards, mask: mask, logprobs: oldLogprobs, refLogprobs: refLogprobs)
    }

    /// Lays out per-row outputs over the input positions 0..<count-1 of each sequence (the log-probs and
    /// entropies of `sequenceLogProbs`, the critic's values) as a padded B×T array of response-token entries:
    /// the last `responseLengths[b]` values of each row. `sequenceRows(_:)` is the inverse.
    public func responseEntries(fromSequenceRows rows: [[Float]]) throws(RolesError) -> [Float] {
        guard rows.count == shape.samples else {
            throw RolesError(.shapeMismatch, "\(rows.count) rows for \(shape.samples) samples")
        }
        var out = [Float](repeating: 0, count: shape.count)
        for (b, row) in rows.enumerated() {
            let len = responseLengths[b]
            guard row.count == sequences[b].count - 1 else {
                throw RolesError(
                    .shapeMismatch, "row \(b) has \(row.count) entries, expected \(sequences[b].count - 1)")
            }
            for t in 0..<len { out[b * shape.tokens + t] = row[row.count - len + t] }
        }
        return out
    }

    /// The inverse of `responseEntries(fromSequenceRows:)`: a padded B×T per-token array (gradients) as per-row
    /// arrays of `sequences[b].count - 1` entries, response token t at `count - 1 - len + t`, 0 on prompt positions.
    public func sequenceRows(_ flat: [Float]) -> [[Float]] {
        sequences.enumerated().map { b, seq in
            var row = [Float](repeating: 0, count: seq.count - 1)
            let len = responseLengths[b]
            for t in 0..<len { row[row.count - len + t] = flat[b * shape.tokens + t] }
            return row
        }
    }

    /// The first scored position of each sequence when only response tokens are scored
    /// (`sequenceLogProbs(_:scoreFrom:)`): the prompt length − 1, whose next token is the first response token.
    public var responseScoreFrom: [Int] { promptLengths.map { max(0, $0 - 1) } }

    /// Lays out per-row outputs of `sequenceLogProbs(sequences, scoreFrom: responseScoreFrom)` (one value per
    /// response token) as a padded B×T array. `responseRows(_:)` is the inverse.
    public func responseEntries(fromResponseRows rows: [[Float]]) throws(RolesError) -> [Float] {
        guard rows.count == shape.samples else {
            throw RolesError(.shapeMismatch, "\(rows.count) rows for \(shape.samples) samples")
        }
        var out = [Float](repeating: 0, count: shape.count)
        for (b, row) in rows.enumerated() {
            guard row.count == responseLengths[b] else {
                throw RolesError(.shapeMismatch, "row \(b) has \(row.count) entries, expected \(responseLengths[b])")
            }
            for (t, v) in row.enumerated() { out[b * shape.tokens + t] = v }
        }
        return out
    }

    /// The inverse of `responseEntries(fromResponseRows:)`: a padded B×T per-token array (gradients) as per-row
    /// arrays of each response's length.
    public func responseRows(_ flat: [Float]) -> [[Float]] {
        responseLengths.enumerated().map { b, len in Array(flat[(b * shape.tokens)..<(b * shape.tokens + len)]) }
    }

    /// Splits a padded B×T array into per-sample arrays of each response's length (padding dropped).
    public func perSample<S: Sendable>(_ flat: [S]) throws(RolesError) -> [[S]] {
        guard flat.count == shape.count else {
            throw RolesError(.shapeMismatch, "\(flat.count) values for a \(shape.samples)×\(shape.tokens) batch")
        }
        return responseLengths.enumerated().map { b, len in Array(flat[(b * shape.tokens)..<(b * shape.tokens + len)]) }
    }

    /// The samples `rows` (a mini- or micro-batch) with the same T.
    public func slice(_ rows: Range<Int>) -> RolloutTensors {
        let e = shape.elements(ofSamples: rows)
        return RolloutTensors(
            shape: TokenShape(samples: rows.count, tokens: shape.tokens),
            responseLengths: Array(responseLengths[rows]), promptLengths: Array(promptLengths[rows]),
            sequences: Array(sequences[rows]), mask: Array(mask[e]),
            behaviourLogprobs: Array(behaviourLogprobs[e]), oldLogprobs: Array(oldLogprobs[e]),
            refLogprobs: refLogprobs.map { Array($0[e]) },
            rewards: Array(rewards[rows]), policyVersions: Array(policyVersions[rows]))
    }

    /// A B×T array filled micro-batch by micro-batch (`size` samples at a time) with `body`'s B'×T outputs.
    public func mapMicroBatches(size: Int, _ body: (RolloutTensors) throws -> [Float]) rethrows -> [Float] {
        var out = [Float](repeating: 0, count: shape.count)
        for rows in BatchConfig.split(0..<shape.samples, size: max(1, size)) {
            out.replaceSubrange(shape.elements(ofSamples: rows), with: try body(slice(rows)))
        }
        return out
    }

    /// The optimiser steps of one iteration over this batch; checks that B and n match `config`.
    public func schedule(_ config: BatchConfig, samplesPerPrompt: Int) throws(RolesError) -> [OptimizerStep] {
        do { try config.validate() } catch { throw RolesError(.invalidConfig, "\(error)") }
        guard samplesPerPrompt == config.samplesPerPrompt else {
            throw RolesError(
                .invalidConfig, "batch has \(samplesPerPrompt) samples per prompt, config \(config.samplesPerPrompt)")
        }
        guard shape.samples == config.samplesPerIteration else {
            throw RolesError(
                .shapeMismatch, "batch has \(shape.samples) samples, config expects \(config.samplesPerIteration)")
        }
        return config.schedule()
    }

    /// `array[rows]` of a B×T array: the B'×T block of a mini- or micro-batch.
    public func rows<S>(_ array: [S], _ rows: Range<Int>) -> [S] { Array(array[shape.elements(ofSamples: rows)]) }
}
