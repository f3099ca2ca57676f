// `rpp sft`: supervised fine-tuning of a small policy on the arithmetic task.
import ArgumentParser
import Foundation
import Model
import Tasks

/// `rpp sft`: trains the pilot's policy on fresh problems until validation accuracy reaches the target.
struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "Supervised fine-tuning on the arithmetic task; stops at the first validation evaluation >= target.",
        discussion: "Model: hidden 128, 4 layers, 4 heads, FFN 384, vocab 16. Fails if the step cap is hit first.")

    @Option(help: "Checkpoint directory to write (config.json, model.safetensors).") var out: String = "runs/sft"
    @Option(help: "Operations, comma separated: add, sub, mul.") var ops: String = "add"
    @Option(help: "Seed of weights and training problems.") var seed: UInt64 = 1
    @Option(help: "Seed of the validation/test splits (as `rpp data arith --seed`).") var splitSeed: UInt64 = 1
    @Option(help: "Batch size.") var batch: Int = 128
    @Option(help: "Peak learning rate.") var lr: Float = 1e-3
    @Option(help: "Warmup steps.") var warmup: Int = 50
    @Option(help: "Evaluate every N steps.") var evalEvery: Int = 25
    @Option(help: "Stop at the first validation accuracy >= this.") var target: Double = 0.35
    @Option(help: "Step cap: reaching it is a failure.") var maxSteps: Int = 2500
    @Option(
        help:
            "Weight initialisation: normal (Normal(0, 0.02), the transformers convention) or torch (PyTorch module defaults: Linear uniform in ±1/sqrt(fan_in), embedding Normal(0, 1))."
    )
    var `init`: SFTInit = .normal

    func validate() throws {
        try checkRange(batch, 1...65_536, "--batch")
        try checkRange(warmup, 0...10_000_000, "--warmup")
        try checkRange(evalEvery, 1...10_000_000, "--eval-every")
        try checkRange(maxSteps, 1...10_000_000, "--max-steps")
        try checkRange(Double(lr), 1e-12...1, "--lr")
    }

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let task = try arithTask(ops)
        guard batch > 0, maxSteps > 0, evalEvery > 0, lr > 0 else {
            throw ValidationError("batch, max-steps, eval-every and lr must be positive")
        }
        let (val, tst) = task.splits(validation: 500, test: 500, seed: splitSeed)
        var cfg = ModelConfig.arithPolicy
        cfg.maxPositionEmbeddings = max(64, task.promptWidth + task.maxAnswerLength + 1)
        let model = try Transformer(config: cfg)
        switch `init` {
        case .normal: model.initializeWeights(seed: seed)
        case .torch: model.initializeWeightsTorchDefaults(seed: seed)
        }
        print(
            "sft: \(model.parameterCount) parameters, \(`init`.rawValue) init, batch \(batch), lr \(lr), target \(target * 100)% on 500 validation prompts"
        )
        var o = SFTOptions()
        o.batch = batch
        o.lr = lr
        o.warmup = warmup
        o.evalEvery = evalEvery
        o.targetAccuracy = target
        o.maxSteps = maxSteps
        o.seed = seed
        let r = try runSFT(model: model, task: task, validation: val, test: tst, options: o) { line in
            print(line)
            fflush(nil)
        }
        let dir = URL(fileURLWithPath: out)
        try model.save(directory: dir)
        let summary = String(
            format: "{\"steps\":%d,\"validation_accuracy\":%.4f,\"test_accuracy\":%.4f,\"seconds\":%.1f}\n",
            r.steps, r.validationAccuracy, r.testAccuracy, r.seconds)
        try Data(summary.utf8).write(to: dir.appendingPathComponent("sft_result.json"))
        print(
            String(
                format: "sft done: step %d validation %.1f%% test %.1f%% in %.1fs; saved %@", r.steps,
                r.validationAccuracy * 100, r.testAccuracy * 100, r.seconds, dir.path))
    }
}

/// `rpp sft --init`: how the starting weights are drawn.
enum SFTInit: String, ExpressibleByArgument, CaseIterable {
    case normal, torch
}
