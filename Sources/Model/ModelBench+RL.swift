// RL-shaped throughput of the engine (`rpp bench model --shapes smollm2-rl`): rows of a seeded prompt
// length (40–80 tokens by default) and response length (1–256), measured in the three ways an RL
// iteration uses the model:
//   training  – the learner's step: micro-batches of prompt + response rows, log-probs of response tokens
//               only, backward, one AdamW step per optimiser step;
//   decode    – the rollout workers' call: every prompt at once, left-padded, a fixed number of new
//               tokens per row (no stop token), sampled at temperature 1 with the KV cache;
//   prefill   – the reference server's call: log-probs of the response tokens of prompt + response rows,
//               forward only, in micro-batches.
// Tokens/s count real tokens (prompt + response for training and prefill, new tokens for decode), never
// padding.
import Foundation

/// Seeded RL-like rows: a prompt length and a response length per row.
public struct RLBenchSequences: Sendable, Equatable {
    public var promptLengths: [Int]
    public var responseLengths: [Int]

    /// `rows` rows, prompt lengths uniform in `prompt`, response lengths uniform in 1...maxResponse.
    public static func seeded(
        rows: Int, prompt: ClosedRange<Int> = 40...80, maxResponse: Int = 256,
        seed: UInt64 = 2
    ) -> RLBenchSequences {
        var rng = Xoshiro256(seed: seed)
        var p: [Int] = []
        var r: [Int] = []
        for _ in 0..<rows {
            p.append(prompt.lowerBound + Int(rng.next() % UInt64(prompt.count)))
            r.append(1 + Int(rng.next() % UInt64(max(1, maxResponse))))
        }
        return RLBenchSequences(promptLengths: p, responseLengths: r)
    }

    /// Random token rows of these lengths (prompt + response), token ids in 1..<vocab.
    func tokens(vocab: Int, seed: UInt64) -> [[Int32]] {
        var rng = Xoshiro256(seed: seed)
        return zip(promptLengths, responseLengths).map { p, r in
            (0..<(p + r)).map { _ in Int32(1 + rng.next() % UInt64(vocab - 1)) }
        }
    }
}

/// What the RL benchmark does.
public struct RLBenchOptions: Sendable {
    /// Rows of one optimiser step and rows per forward/backward pass.
    public var trainRows = 16, microBatch = 8
    /// Timed optimiser steps (after one untimed warm-up step).
    public var steps = 2
    /// New tokens per row in the decode measurement (all rows of the sequences decode together).
    public var newTokens = 128
    /// Rows per forward pass in the prefill measurement.
    public var scoreBatch = 8

    public init() {}
}

/// Results of the RL benchmark: tokens/s and the tokens each figure counts.
public struct RLBenchResult: Sendable {
    public var trainTokensPerSecond = 0.0, decodeTokensPerSecond = 0.0, prefillTokensPerSecond = 0.0
    public var trainTokens = 0, decodeTokens = 0, prefillTokens = 0
    /// Seconds of each measurement.
    public var trainSeconds = 0.0, decodeSeconds = 0.0, prefillSeconds = 0.0
}

extension ModelBench {
    /// Runs the three RL measurements on a model of `config` with random weights (seeded).
    /// In bf16 the training model keeps float32 masters, and decode and prefill run as an inference role does
    /// (bf16 weights only).
    public static func runRL(
        config: ModelConfig, sequences s: RLBenchSequences,
        options o: RLBenchOptions, precision: ModelPrecision = .fp32
    ) throws -> RLBenchResult {
        guard !s.promptLengths.isEmpty, s.promptLengths.count == s.responseLengths.count,
            s.promptLengths.allSatisfy({ $0 >= 1 }), s.responseLengths.allSatisfy({ $0 >= 1 })
        else {
            throw ModelError.invalidInput("RL benchmark rows need prompt and response lengths ≥ 1, one of each per row")
        }
        guard o.trainRows >= 1, o.trainRows <= s.promptLengths.count, o.microBatch >= 1, o.steps >= 1,
            o.newTokens >= 1, o.scoreBatch >= 1
        else {
            throw ModelError.invalidInput(
                "RL benchmark: train rows must be in 1...\(s.promptLengths.count), "
                    + "micro-batch, steps, new tokens and score batch ≥ 1")
        }
        let m = try Transformer(config: config)
        m.initializeWeights(seed: 1)
        m.usePrecision(precision)
        let rows = s.tokens(vocab: config.vocabSize, seed: 3)
        let from = s.promptLengths.map { $0 - 1 }
        var result = RLBenchResult()

        // Training: one optimiser step over the first trainRows rows, micro-batch by micro-batch.
        let opt = AdamW(model: m, schedule: LRSchedule(peak: 1e-5))
        let trainResponse = s.responseLengths.prefix(o.trainRows).reduce(0, +)
        func trainStep() throws {
            m.zeroGrad()
            for lo in stride(from: 0, to: o.trainRows, by: o.microBatch) {
                let r = lo..<min(o.trainRows, lo + o.microBatch)
                let (lp, _) = try m.sequenceLogProbs(Array(rows[r]), scoreFrom: Array(from[r]))
                try m.backwardSequences(dLogp: lp.map { $0.map { _ in -1 / Float(trainResponse) } })
            }
            opt.update(m)
        }
        try trainStep()
        var t0 = Date()
        for _ in 0..<o.steps { try trainStep() }
        result.trainSeconds = Date().timeIntervalSince(t0)
        result.trainTokens = o.steps * rows.prefix(o.trainRows).reduce(0) { $0 + $1.count }
        result.trainTokensPerSecond = Double(result.trainTokens) / result.trainSeconds

        // Decode: every row's prompt, left-padded, newTokens each.
        m.usePrecision(precision, keepFloat32: false)
        let padded = LeftPadded(zip(rows, s.promptLengths).map { Array($0.prefix($1)) })
        let sampling = SamplingOptions(temperature: 1, maxNewTokens: o.newTokens, seed: 4)
        // Warm-up on the same prompts, so the timed call finds its buffers in place as a worker's later calls do.
        _ = try m.generate(
            prompts: padded.rows, options: SamplingOptions(temperature: 1, maxNewTokens: 2), starts: padded.starts)
        t0 = Date()
        let g = try m.generate(prompts: padded.rows, options: sampling, starts: padded.starts)
        result.decodeSeconds = Date().timeIntervalSince(t0)
        result.decodeTokens = g.tokens.reduce(0) { $0 + $1.count }
        result.decodeTokensPerSecond = Double(result.decodeTokens) / result.decodeSeconds

        // Prefill: response log-probs of every row, scoreBatch rows per pass, no backward.
        t0 = Date()
        for lo in stride(from: 0, to: rows.count, by: o.scoreBatch) {
            let r = lo..<min(rows.count, lo + o.scoreBatch)
            _ = try m.sequenceLogProbs(Array(rows[r]), scoreFrom: Array(from[r]), forBackward: false)
        }
        result.prefillSeconds = Date().timeIntervalSince(t0)
        result.prefillTokens = rows.reduce(0) { $0 + $1.count }
        result.prefillTokensPerSecond = Double(result.prefillTokens) / result.prefillSeconds
        return result
    }

    /// "model name" of the first processor in /proc/cpuinfo, or "unknown".
    public static func cpuModelName() -> String {
        let name = Model.cpuModelName()
        return name.isEmpty ? "unknown" : name
    }

    /// "CPU: name (family F model M), N cores": the first line of every benchmark, so that its figures name the
    /// CPU they ran on (the model name alone, such as "AMD EPYC", does not tell one generation from the next).
    public static func cpuLine() -> String {
        let family = cpuInfoField("cpu family")
        let model = cpuInfoField("model")
        let generation = family.isEmpty || model.isEmpty ? "" : " (family \(family) model \(model))"
        return "CPU: \(cpuModelName())\(generation), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
