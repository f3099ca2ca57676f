// Supervised fine-tuning on the arithmetic task: fresh problems every step (never from the
// validation or test split), loss = mean negative log-likelihood of answer and EOS tokens, AdamW,
// greedy exact-match on the validation split every `evalEvery` steps, stop at the first evaluation
// that reaches `targetAccuracy`, and a typed failure when the step cap is hit first.
import Foundation
import Model

/// Options of an SFT run (defaults: the pilot's design in demo-task.md).
public struct SFTOptions: Sendable {
    public var batch = 128
    public var lr: Float = 1e-3
    public var warmup = 50
    public var beta1: Float = 0.9, beta2: Float = 0.95
    public var weightDecay: Float = 0
    public var clip: Float = 1
    public var evalEvery = 25
    public var targetAccuracy = 0.35
    public var maxSteps = 2500
    public var seed: UInt64 = 1
    public var logEvery = 25
    public init() {}
}

/// What an SFT run reached.
public struct SFTResult: Sendable {
    public var steps: Int
    public var validationAccuracy: Double
    public var testAccuracy: Double
    public var seconds: Double
    public var lastLoss: Double
}

/// The step cap was reached before the target accuracy.
public struct SFTStepCapError: Error, CustomStringConvertible {
    public let steps: Int, best: Double, target: Double
    public var description: String {
        "SFT hit its step cap of \(steps) steps (best validation accuracy \(String(format: "%.1f", best * 100))% < target \(String(format: "%.1f", target * 100))%); try another --seed"
    }
}

/// Runs SFT of `model` on `task`; `log` receives progress lines.
public func runSFT(
    model: Transformer, task: ArithTask, validation: [ArithProblem], test: [ArithProblem],
    options o: SFTOptions, log: (String) -> Void
) throws -> SFTResult {
    let start = Date()
    let opt = AdamW(
        model: model, schedule: LRSchedule(peak: o.lr, warmupSteps: o.warmup), beta1: o.beta1, beta2: o.beta2,
        weightDecay: o.weightDecay, clipNorm: o.clip)
    let held = Set(validation.map(\.prompt)).union(test.map(\.prompt))
    var rng = Xoshiro256(seed: o.seed &+ 0x7123)
    var best = 0.0
    for step in 1...o.maxSteps {
        var problems: [ArithProblem] = []
        while problems.count < o.batch {
            let p = task.draw(&rng)
            if !held.contains(p.prompt) { problems.append(p) }
        }
        let (inputs, targets, mask, starts, T) = try task.sftBatch(problems)
        try model.forward(tokens: inputs, batch: o.batch, seqLen: T, starts: starts)
        let lp = try model.logProbs(targets: targets).logp
        let count = mask.reduce(0, +)
        var loss = 0.0
        for i in lp.indices where mask[i] > 0 { loss -= Double(lp[i]) }
        loss /= Double(count)
        model.zeroGrad()
        try model.backward(dLogp: mask.map { -$0 / count })
        let (lr, gn) = opt.update(model)
        let elapsed = Date().timeIntervalSince(start)
        if step % o.logEvery == 0 || step == 1 {
            log(String(format: "step %d loss %.4f lr %.2e grad_norm %.3f elapsed %.1fs", step, loss, lr, gn, elapsed))
        }
        if step % o.evalEvery == 0 {
            let acc = try task.evaluate(model, on: validation)
            best = max(best, acc)
            log(
                String(
                    format: "step %d validation accuracy %.1f%% elapsed %.1fs", step, acc * 100,
                    Date().timeIntervalSince(start)))
            if acc >= o.targetAccuracy {
                let testAcc = try task.evaluate(model, on: test)
                return SFTResult(
                    steps: step, validationAccuracy: acc, testAccuracy: testAcc,
                    seconds: Date().timeIntervalSince(start), lastLoss: loss)
            }
        }
    }
    throw SFTStepCapError(steps: o.maxSteps, best: best, target: o.targetAccuracy)
}
