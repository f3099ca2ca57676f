// `rpp bench model`: training tokens/s (forward + backward + AdamW), decode tokens/s with the KV
// cache, achieved GFLOPS, and the machine's sgemm GFLOPS measured in the same run; `smollm2-rl` measures
// SmolLM2-135M's shape on RL-like rows (training, batched decode, and reference-style prefill).
import ArgumentParser
import Foundation
import Model

/// `rpp bench model`: throughput of the policy engine on the tiny / small / base shapes.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Training and decode tokens/s of the policy engine, against this machine's sgemm GFLOPS.",
        discussion:
            "Shapes: tiny (128, 4 layers, 4 heads, FFN 384, batch 64x64), small (256, 6, 8, 768, 32x128), base (512, 8, 8, 1536, 32x128); vocab 32. rollout: the default RL task's sampling call (128, 4, 4, 384, vocab 16, 64 rows = 16 prompts x 4 samples, prompt 8, 6 new tokens). smollm2: SmolLM2-135M (576, 30 layers, 9/3 heads, FFN 1536, vocab 49,152, tied; 8x256). smollm2-rl: the same model on RL-like rows (--rows rows, seeded prompts of 40-80 tokens and responses of 1-256): training tokens/s (--train-rows rows per optimiser step in micro-batches of --micro-batch, log-probs of response tokens only), decode tokens/s (all rows' prompts left-padded, --new-tokens each, temperature 1, no stop; after a 2-token warm-up on the same prompts) and prefill tokens/s (response log-probs of every row, --micro-batch rows per pass)."
    )

    @Option(help: "Shapes, comma separated: tiny, small, base, rollout, smollm2, smollm2-rl.") var shapes: String =
        "tiny,small,base"
    @Option(help: "Timed training steps per shape.") var steps: Int = 5
    @Option(help: "Prompt length of the decode benchmark (the rest of the sequence is generated).") var promptLength:
        Int = 16
    @Option(help: "smollm2-rl: rows (the decode batch).") var rows: Int = 64
    @Option(help: "smollm2-rl: rows of one optimiser step.") var trainRows: Int = 16
    @Option(help: "smollm2-rl: rows per forward/backward pass (training and prefill).") var microBatch: Int = 8
    @Option(help: "smollm2-rl: timed optimiser steps (after one warm-up step).") var rlSteps: Int = 1
    @Option(help: "smollm2-rl: new tokens per row in the decode measurement.") var newTokens: Int = 128
    @Option(help: "Precisions, comma separated: fp32, bf16 (each shape runs in each, in this order).") var precision:
        String = "fp32"
    @Flag(help: "Print one JSON object per shape instead of text.") var json = false

    func validate() throws {
        try checkRange(steps, 1...10_000, "--steps")
        try checkRange(promptLength, 1...63, "--prompt-length")  // below the shortest shape (64)
        try checkRange(rows, 1...1024, "--rows")
        try checkRange(trainRows, 1...rows, "--train-rows")
        try checkRange(microBatch, 1...1024, "--micro-batch")
        try checkRange(rlSteps, 1...1000, "--rl-steps")
        try checkRange(newTokens, 1...4096, "--new-tokens")
        _ = try precisionList(precision)
    }

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let names = shapes.split(separator: ",").map(String.init)
        let benches = try names.filter { $0 != "smollm2-rl" }.map { name -> ModelBenchShape in
            guard let s = ModelBenchShape.named(name) else {
                throw ValidationError("unknown shape \(name) (tiny, small, base, rollout, smollm2, smollm2-rl)")
            }
            return s
        }
        guard steps > 0 else { throw ValidationError("steps must be positive") }
        let peak = ModelBench.sgemmGFLOPS()
        if !json {
            print(ModelBench.cpuLine())
            print(
                String(
                    format: "sgemm: %.1f GFLOPS (%d cores, 1024x1024x1024, OpenBLAS core %@)", peak, Parallel.workers,
                    OpenBLASTuning.coreName))
        }
        let list = try precisionList(precision)
        if !json && list.contains(.bf16) { print("bf16 products: \(ModelPrecision.bf16.kernelDescription)") }
        for s in benches {
            for p in list {
                let r = try ModelBench.run(shape: s, steps: steps, promptLength: promptLength, precision: p)
                if json {
                    print(
                        String(
                            format:
                                "{\"shape\":\"%@\",\"precision\":\"%@\",\"train_tokens_per_s\":%.1f,\"decode_tokens_per_s\":%.1f,\"train_gflops\":%.2f,\"sgemm_gflops\":%.2f}",
                            s.name, p.rawValue, r.trainTokensPerSecond, r.decodeTokensPerSecond, r.trainGFLOPS, peak))
                } else {
                    print(
                        String(
                            format: "%@ %@: train %.0f tokens/s (%.1f GFLOPS, %.0f%% of sgemm), decode %.0f tokens/s",
                            s.name, p.rawValue, r.trainTokensPerSecond, r.trainGFLOPS, 100 * r.trainGFLOPS / peak,
                            r.decodeTokensPerSecond))
                }
            }
        }
        if names.contains("smollm2-rl") { for p in list { try runRL(precision: p) } }
    }

    /// SmolLM2-135M's shape on RL-like rows; prints the CPU and OpenBLAS core with the figures.
    func runRL(precision: ModelPrecision) throws {
        let seqs = RLBenchSequences.seeded(rows: rows)
        var o = RLBenchOptions()
        o.trainRows = trainRows
        o.microBatch = microBatch
        o.scoreBatch = microBatch
        o.steps = rlSteps
        o.newTokens = newTokens
        let r = try ModelBench.runRL(config: .smolLM2Shape, sequences: seqs, options: o, precision: precision)
        let cpu = ModelBench.cpuModelName()
        let core = OpenBLASTuning.coreName
        if json {
            struct Line: Encodable {
                let shape: String, precision: String, cpu: String, openblas_core: String, cores: Int
                let train_tokens_per_s: Double, decode_tokens_per_s: Double, prefill_tokens_per_s: Double
                let train_rows: Int, micro_batch: Int, rl_steps: Int, new_tokens: Int
                let prompt_lengths: [Int], response_lengths: [Int]
            }
            let line = Line(
                shape: "smollm2-rl", precision: precision.rawValue, cpu: cpu, openblas_core: core,
                cores: Parallel.workers,
                train_tokens_per_s: r.trainTokensPerSecond, decode_tokens_per_s: r.decodeTokensPerSecond,
                prefill_tokens_per_s: r.prefillTokensPerSecond, train_rows: trainRows, micro_batch: microBatch,
                rl_steps: rlSteps, new_tokens: newTokens, prompt_lengths: seqs.promptLengths,
                response_lengths: seqs.responseLengths)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
            return
        }
        let tokens = zip(seqs.promptLengths, seqs.responseLengths).map { $0 + $1 }
        print(
            "smollm2-rl \(precision.rawValue) on \(cpu), OpenBLAS core \(core), \(Parallel.workers) cores: \(rows) rows, prompts "
                + "\(seqs.promptLengths.min()!)-\(seqs.promptLengths.max()!) tokens, responses "
                + "\(seqs.responseLengths.min()!)-\(seqs.responseLengths.max()!), \(tokens.reduce(0, +)) tokens")
        print(
            String(
                format:
                    "  train   %7.0f tokens/s  (%d rows per step in micro-batches of %d, response-only head; %d tokens in %.1f s)",
                r.trainTokensPerSecond, trainRows, microBatch, r.trainTokens, r.trainSeconds))
        print(
            String(
                format: "  decode  %7.0f tokens/s  (batch %d, %d new tokens each, temperature 1; %.1f s)",
                r.decodeTokensPerSecond, rows, newTokens, r.decodeSeconds))
        print(
            String(
                format: "  prefill %7.0f tokens/s  (response log-probs, %d rows per pass; %d tokens in %.1f s)",
                r.prefillTokensPerSecond, microBatch, r.prefillTokens, r.prefillSeconds))
    }
}

/// A comma-separated --precision list (fp32, bf16).
func precisionList(_ text: String) throws -> [ModelPrecision] {
    try text.split(separator: ",").map { name in
        guard let p = ModelPrecision(rawValue: String(name)) else {
            throw ValidationError("unknown precision \(name) (fp32, bf16)")
        }
        return p
    }
}
