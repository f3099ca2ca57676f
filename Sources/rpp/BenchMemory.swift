// `rpp bench memory`: peak resident memory of one training micro-batch (forward, log-probs, backward and an
// AdamW step) at several sequence lengths, each in a fresh child process reaped with wait4 (ru_maxrss). The
// baseline in the same run is the fixed part: weights, gradients and AdamW moments (16 bytes a parameter).
import ArgumentParser
import Foundation
import Glibc
import Model

/// `rpp bench memory`: how a training micro-batch's memory grows with the sequence length.
struct BenchMemory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Peak memory of one training micro-batch at several sequence lengths (a child process each).",
        discussion: """
            Shape smollm2: SmolLM2-135M's architecture (30 layers, hidden 576, 9/3 heads, FFN 1536, vocabulary 49,152) \
            with random weights. Each length runs in its own process; its peak RSS is read when it is reaped. The \
            table also gives what per-layer [B, H, T, T] attention probabilities would add, which the engine does \
            not keep (it recomputes them in the backward).
            """)

    @Option(help: "Model shape (see `rpp bench model --help`).") var shape = "smollm2"
    @Option(help: "Sequence lengths, comma separated.") var seqLens = "256,512,1024"
    @Option(help: "Rows in the micro-batch.") var batch = 1
    @Option(help: .hidden) var child: Int?
    @Flag(
        help:
            "Instead: the memory an inference role (rollout worker, reference) holds after loading and sampling, per --precision."
    )
    var inference = false
    @Option(help: "With --inference: precisions, comma separated (fp32, bf16).") var precision = "fp32,bf16"
    @Option(help: .hidden) var inferenceChild: String?

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        guard let s = ModelBenchShape.named(shape) else { throw ValidationError("unknown shape \(shape)") }
        guard batch >= 1 else { throw ValidationError("batch must be at least 1") }
        if let p = inferenceChild {
            try Self.holdForInference(shape: s, precision: p)
            return
        }
        if inference {
            try runInference(shape: s)
            return
        }
        if let T = child {
            try ModelBench.trainOnce(config: s.config, batch: batch, seqLen: T)
            return
        }
        let lengths = try seqLens.split(separator: ",").map { text -> Int in
            guard let T = Int(text.trimmingCharacters(in: .whitespaces)), T >= 2, T <= s.config.maxPositionEmbeddings
            else {
                throw ValidationError("sequence length '\(text)' must be in 2...\(s.config.maxPositionEmbeddings)")
            }
            return T
        }
        let c = s.config
        let fixedMB = Double(ParameterLayout(config: c).totalCount) * 16 / 1_048_576
        print(ModelBench.cpuLine())
        print(
            String(
                format:
                    "shape %@: %d parameters; weights, gradients and AdamW moments %.0f MiB; batch %d; OpenBLAS core %@",
                s.name, ParameterLayout(config: c).totalCount, fixedMB, batch, OpenBLASTuning.coreName))
        print(
            "seq len | peak RSS MiB | above the fixed part | [B,H,T,T] probabilities per layer would add MiB | seconds")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rpp-bench-memory-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for T in lengths {
            let start = Date()
            let child = try BenchChild(
                name: "memory-\(T)", executable: currentExecutable(),
                arguments: ["bench", "memory", "--shape", shape, "--batch", "\(batch)", "--child", "\(T)"],
                log: dir.appendingPathComponent("\(T).log"), environment: [:])
            while child.isRunning { usleep(20_000) }
            guard let exit = child.exit, exit.status == 0 else {
                throw ValidationError("the child for length \(T) failed: \(child.tail())")
            }
            let probsMB =
                Double(c.numLayers * batch * c.numHeads * T * T + batch * c.numKVHeads * T * T) * 4 / 1_048_576
            print(
                String(
                    format: "%7d | %12.0f | %20.0f | %47.0f | %7.1f", T, exit.peakMB, exit.peakMB - fixedMB, probsMB,
                    Date().timeIntervalSince(start)))
        }
    }
}
