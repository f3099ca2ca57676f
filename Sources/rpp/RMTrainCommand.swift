// `rpp rm-train`: trains the Bradley-Terry reward model from preference pairs.
import ArgumentParser
import Foundation
import Model
import Roles
import Tasks

/// `rpp rm-train`: a scalar-head transformer from preference pairs; reports held-out pair accuracy and
/// stores the reward mean and std beside the checkpoint.
struct RMTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm-train",
        abstract: "Train a Bradley-Terry reward model from preference pairs (JSONL prompt, chosen, rejected).",
        discussion: """
            Without --data it trains on generated arithmetic preferences (chosen = the correct answer, rejected = \
            a wrong one); --write-prefs FILE only writes such a set. Responses are tokenised as prompt (left-padded \
            to 8) + response + EOS with the arithmetic character tokenizer. Writes config.json, model.safetensors, \
            reward_stats.json and rm_result.json to --out.
            """)

    @Option(
        help: "Preference pairs (JSONL {\"prompt\", \"chosen\", \"rejected\"}); default: generated arithmetic pairs.")
    var data: String?
    @Option(help: "Held-out pairs (JSONL); default: --heldout-fraction of --data, or fresh generated pairs.")
    var heldout: String?
    @Option(help: "Fraction of --data (or of the generated prompts) held out when --heldout is not given.")
    var heldoutFraction: Double = 0.2
    @Option(help: "Generated arithmetic training pairs (without --data).") var arithPairs: Int = 4000
    @Option(help: "Generated arithmetic held-out pairs (without --data).") var arithHeldout: Int = 500
    @Option(help: "Operations of generated pairs, comma separated: add, sub, mul.") var ops: String = "add"
    @Option(help: "Largest operand of generated pairs.") var maxOperand: Int = 999
    @Option(help: "Write the generated training pairs to this JSONL file and exit.") var writePrefs: String?
    @Option(
        name: .customLong("init"),
        help: "SFT checkpoint to start from (its weights, a new zero score head); default: from scratch.")
    var initFrom: String?
    @Option(help: "From scratch: hidden size.") var hidden: Int = 64
    @Option(help: "From scratch: layers.") var layers: Int = 2
    @Option(help: "From scratch: attention heads.") var heads: Int = 4
    @Option(help: "Checkpoint directory to write.") var out: String = "runs/rm"
    @Option(help: "Optimiser steps.") var steps: Int = 600
    @Option(help: "Pairs per step.") var batch: Int = 32
    @Option(help: "Peak learning rate (warmup, then cosine to 10%).") var lr: Float = 3e-3
    @Option(help: "Warmup steps.") var warmup: Int = 20
    @Option(help: "AdamW weight decay (matrices only).") var weightDecay: Float = 0
    @Option(help: "Held-out accuracy every N steps (0: only before and after).") var evalEvery: Int = 100
    @Option(help: "Seed of weights, generated pairs and batches.") var seed: UInt64 = 1

    func validate() throws {
        try checkRange(arithPairs, 1...1_000_000, "--arith-pairs")
        try checkRange(arithHeldout, 1...1_000_000, "--arith-heldout")
        try checkRange(maxOperand, 1...1_000_000_000, "--max-operand")
        try checkRange(hidden, 1...(1 << 16), "--hidden")
        try checkRange(layers, 1...1024, "--layers")
        try checkRange(heads, 1...1024, "--heads")
        try checkRange(steps, 1...10_000_000, "--steps")
        try checkRange(batch, 1...65_536, "--batch")
        try checkRange(warmup, 0...10_000_000, "--warmup")
        try checkRange(evalEvery, 0...10_000_000, "--eval-every")
        try checkRange(Double(lr), 1e-12...1, "--lr")
        try checkRange(Double(weightDecay), 0...1000, "--weight-decay")
    }

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        guard steps > 0, batch > 0, lr > 0, arithPairs > 0, arithHeldout > 0, maxOperand > 0,
            heldoutFraction > 0, heldoutFraction < 1
        else {
            throw ValidationError(
                "steps, batch, lr, arith-pairs, arith-heldout and max-operand must be positive; "
                    + "heldout-fraction in (0, 1)")
        }
        let task = try rmArithTask(ops, maxOperand: maxOperand)
        let (train, held) = try pairs(task)
        if let path = writePrefs {
            try write(PreferencePair.jsonl(train), to: path)
            print("wrote \(train.count) preference pairs to \(path)")
            return
        }
        let encoder = RewardEncoder(promptWidth: task.promptWidth)
        func tokens(_ p: [PreferencePair]) throws -> [TokenPair] {
            try p.map {
                let r = try encoder.rows($0)
                return TokenPair(chosen: r.chosen, rejected: r.rejected)
            }
        }
        let trainRows = try tokens(train)
        let heldRows = try tokens(held)
        let (model, source) = try makeModel()
        print(
            "rm-train: \(model.parameterCount) parameters (\(initFrom.map { "from \($0)" } ?? "from scratch")), "
                + "\(train.count) training pairs, \(held.count) held-out pairs, \(steps) steps of \(batch) pairs, lr \(lr)"
        )
        var o = RMTrainOptions()
        o.steps = steps
        o.batch = batch
        o.lr = lr
        o.warmup = warmup
        o.evalEvery = evalEvery
        o.seed = seed
        o.weightDecay = weightDecay
        let r = try trainRewardModel(model, train: trainRows, heldout: heldRows, options: o) {
            print($0)
            fflush(nil)
        }
        let dir = URL(fileURLWithPath: out)
        try model.save(directory: dir, source: source)
        try r.stats.save(directory: dir)
        let summary = String(
            format: "{\"steps\":%d,\"initial_heldout_accuracy\":%.4f,\"heldout_accuracy\":%.4f,"
                + "\"train_accuracy\":%.4f,\"train_loss\":%.4f,\"reward_mean\":%.5f,\"reward_std\":%.5f,"
                + "\"seconds\":%.1f}\n", r.steps, r.initialAccuracy, r.heldoutAccuracy, r.trainAccuracy,
            r.trainLoss, r.stats.mean, r.stats.std, r.seconds)
        try write(summary, to: dir.appendingPathComponent("rm_result.json").path)
        print(
            String(
                format: "rm-train done: held-out pair accuracy %.1f%% (%.1f%% before), train %.1f%%, reward mean %.3f "
                    + "std %.3f, %.1fs; saved %@", r.heldoutAccuracy * 100, r.initialAccuracy * 100,
                r.trainAccuracy * 100,
                r.stats.mean, r.stats.std, r.seconds, dir.path))
    }

    /// Training and held-out pairs from the files or generated.
    private func pairs(_ task: ArithTask) throws -> (train: [PreferencePair], heldout: [PreferencePair]) {
        if let data {
            var all = try PreferencePair.read(path: data)
            if let heldout { return (all, try PreferencePair.read(path: heldout)) }
            var rng = Xoshiro256(seed: seed &+ 0x5917)
            for i in stride(from: all.count - 1, to: 0, by: -1) { all.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let n = Int((Double(all.count) * heldoutFraction).rounded())
            guard n >= 1, n < all.count else {
                throw ServerCommandError(
                    "\(data): \(all.count) pairs are too few to hold out \(heldoutFraction * 100)%")
            }
            return (Array(all.dropFirst(n)), Array(all.prefix(n)))
        }
        let generated = ArithPreferences.split(
            task: task, train: arithPairs, heldout: arithHeldout,
            heldoutFraction: heldoutFraction, seed: seed)
        guard !generated.train.isEmpty, !generated.heldout.isEmpty else {
            throw ServerCommandError(
                "--max-operand \(maxOperand) leaves too few prompts for training and held-out pairs")
        }
        if let heldout {
            let held = try PreferencePair.read(path: heldout)
            let prompts = Set(held.map(\.prompt))
            return (generated.train.filter { !prompts.contains($0.prompt) }, held)
        }
        return generated
    }

    /// A scalar-head model from the SFT checkpoint (with what its directory holds besides the weights) or from
    /// scratch.
    private func makeModel() throws -> (Transformer, CheckpointSource?) {
        if let initFrom {
            do {
                let (lm, source) = try Transformer.loadCheckpoint(directory: URL(fileURLWithPath: initFrom))
                return (try lm.scalarHeadCopy(), source)
            } catch {
                throw ServerCommandError("--init \(initFrom): \(error)")
            }
        }
        guard hidden > 0, layers > 0, heads > 0, hidden % heads == 0, (hidden / heads) % 2 == 0 else {
            throw ValidationError("--hidden must be a positive multiple of --heads with an even head size")
        }
        let model = try Transformer(
            config: ModelConfig(
                hiddenSize: hidden, intermediateSize: 3 * hidden, numLayers: layers,
                numHeads: heads, vocabSize: 16, maxPositionEmbeddings: 64,
                scalarHead: true))
        model.initializeWeights(seed: seed)
        return (model, nil)
    }

    private func write(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        } catch { throw ServerCommandError("cannot write \(path): \(ioReason(error))") }
    }
}

/// Parses "add,sub" into an ArithTask with operands up to `maxOperand`.
private func rmArithTask(_ ops: String, maxOperand: Int) throws -> ArithTask {
    ArithTask(ops: try arithTask(ops).ops, maxOperand: maxOperand)
}
