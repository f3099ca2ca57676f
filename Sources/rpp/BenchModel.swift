// `rpp bench model`: training tokens/s (forward + backward + AdamW), decode tokens/s with the KV
// cache, achieved GFLOPS, and the machine's sgemm GFLOPS measured in the same run.
import ArgumentParser
import Foundation
import Model

/// `rpp bench model`: throughput of the policy engine on the tiny / small / base shapes.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Training and decode tokens/s of the policy engine, against this machine's sgemm GFLOPS.",
        discussion: "Shapes: tiny (128, 4 layers, 4 heads, FFN 384, batch 64x64), small (256, 6, 8, 768, 32x128), base (512, 8, 8, 1536, 32x128); vocab 32. rollout: the default RL task's sampling call (128, 4, 4, 384, vocab 16, 64 rows = 16 prompts x 4 samples, prompt 8, 6 new tokens). smollm2: SmolLM2-135M (576, 30 layers, 9/3 heads, FFN 1536, vocab 49,152, tied; 8x256).")

    @Option(help: "Shapes, comma separated: tiny, small, base, rollout, smollm2.") var shapes: String = "tiny,small,base"
    @Option(help: "Timed training steps per shape.") var steps: Int = 5
    @Option(help: "Prompt length of the decode benchmark (the rest of the sequence is generated).") var promptLength: Int = 16
    @Flag(help: "Print one JSON object per shape instead of text.") var json = false

    func validate() throws {
        try checkRange(steps, 1...10_000, "--steps")
        try checkRange(promptLength, 1...63, "--prompt-length")  // below the shortest shape (64)
    }

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let benches = try shapes.split(separator: ",").map { name -> ModelBenchShape in
            guard let s = ModelBenchShape.named(String(name)) else { throw ValidationError("unknown shape \(name) (tiny, small, base, rollout, smollm2)") }
            return s
        }
        guard steps > 0 else { throw ValidationError("steps must be positive") }
        let peak = ModelBench.sgemmGFLOPS()
        if !json { print(String(format: "sgemm: %.1f GFLOPS (%d cores, 1024x1024x1024, OpenBLAS core %@)", peak, Parallel.workers, OpenBLASTuning.coreName)) }
        for s in benches {
            let r = try ModelBench.run(shape: s, steps: steps, promptLength: promptLength)
            if json {
                print(String(format: "{\"shape\":\"%@\",\"train_tokens_per_s\":%.1f,\"decode_tokens_per_s\":%.1f,\"train_gflops\":%.2f,\"sgemm_gflops\":%.2f}",
                             s.name, r.trainTokensPerSecond, r.decodeTokensPerSecond, r.trainGFLOPS, peak))
            } else {
                print(String(format: "%@: train %.0f tokens/s (%.1f GFLOPS, %.0f%% of sgemm), decode %.0f tokens/s",
                             s.name, r.trainTokensPerSecond, r.trainGFLOPS, 100 * r.trainGFLOPS / peak, r.decodeTokensPerSecond))
            }
        }
    }
}
