// Training the Bradley-Terry reward model: batches of preference pairs drawn with replacement (seeded),
// loss = mean over the batch of −log σ(r_chosen − r_rejected) with r the value at the last token of
// prompt + response, gradient through `backwardSequenceValues` (only the last position of each row gets
// one), AdamW. Held-out pair accuracy (r_chosen > r_rejected) is measured before, during and after;
// the learning rate warms up then follows a cosine to 10%. At the end, the reward mean and std over the training responses (chosen and rejected) are computed.
import Foundation
import Model

/// A preference pair as token rows.
public struct TokenPair: Sendable, Equatable {
    public var chosen: [Int32]
    public var rejected: [Int32]
    public init(chosen: [Int32], rejected: [Int32]) {
        self.chosen = chosen
        self.rejected = rejected
    }
}

/// Options of a reward-model training run.
public struct RMTrainOptions: Sendable {
    public var steps = 300
    /// Pairs per step.
    public var batch = 32
    public var lr: Float = 3e-3
    public var warmup = 20
    public var weightDecay: Float = 0
    public var clip: Float = 1
    public var seed: UInt64 = 1
    /// Held-out accuracy every N steps (0: only before and after).
    public var evalEvery = 100
    public var logEvery = 50
    /// Training responses the reward statistics use (at most).
    public var statsSamples = 4096
    public init() {}
}

/// What a reward-model training run reached.
public struct RMTrainResult: Sendable {
    public var steps: Int
    /// Mean loss over the last `logEvery` steps.
    public var trainLoss: Double
    /// Held-out pair accuracy before the first step.
    public var initialAccuracy: Double
    /// Held-out pair accuracy after the last step.
    public var heldoutAccuracy: Double
    /// Training pair accuracy (on the pairs the statistics use) after the last step.
    public var trainAccuracy: Double
    public var stats: RewardStats
    public var seconds: Double
}

/// Trains scalar-head `model` on `train` pairs; `log` receives progress lines.
public func trainRewardModel(
    _ model: Transformer, train: [TokenPair], heldout: [TokenPair], options o: RMTrainOptions,
    log: (String) -> Void
) throws -> RMTrainResult {
    guard model.config.scalarHead else { throw RewardModelError("rm-train needs a scalar-head model") }
    guard !train.isEmpty, !heldout.isEmpty else { throw RewardModelError("rm-train needs training and held-out pairs") }
    guard o.steps > 0, o.batch > 0, o.lr > 0 else { throw RewardModelError("steps, batch and lr must be positive") }
    let longest = (train + heldout).map { max($0.chosen.count, $0.rejected.count) }.max()!
    guard longest <= model.config.maxPositionEmbeddings else {
        throw RewardModelError(
            "a pair has \(longest) tokens; the model takes at most \(model.config.maxPositionEmbeddings)")
    }
    let start = Date()
    let opt = AdamW(
        model: model, schedule: LRSchedule(peak: o.lr, warmupSteps: o.warmup, cosineTotalSteps: o.steps),
        weightDecay: o.weightDecay,
        clipNorm: o.clip > 0 ? o.clip : nil)
    var rng = Xoshiro256(seed: o.seed &+ 0xB7E1)
    let initial = try pairAccuracy(model, heldout)
    log(String(format: "step 0 held-out pair accuracy %.1f%% (%d pairs)", initial * 100, heldout.count))
    var recent: [Double] = []
    for step in 1...o.steps {
        let pairs = (0..<o.batch).map { _ in train[Int(rng.next() % UInt64(train.count))] }
        model.zeroGrad()
        let loss = try bradleyTerryLossAndGradient(model, pairs)
        guard loss.isFinite else {
            throw RewardModelError("rm-train: the loss became non-finite at step \(step); lower --lr")
        }
        let (lr, gn) = opt.update(model)
        recent.append(loss)
        if recent.count > max(o.logEvery, 1) { recent.removeFirst() }
        if step % max(o.logEvery, 1) == 0 || step == 1 {
            log(
                String(
                    format: "step %d loss %.4f lr %.2e grad_norm %.3f elapsed %.1fs", step, loss, lr, gn,
                    Date().timeIntervalSince(start)))
        }
        if o.evalEvery > 0 && step % o.evalEvery == 0 && step != o.steps {
            log(String(format: "step %d held-out pair accuracy %.1f%%", step, try pairAccuracy(model, heldout) * 100))
        }
    }
    let final = try pairAccuracy(model, heldout)
    log(String(format: "step %d held-out pair accuracy %.1f%%", o.steps, final * 100))
    let statPairs = Array(train.prefix(max(1, o.statsSamples / 2)))
    let chosen = try RewardModel.lastValues(model, statPairs.map(\.chosen), batch: 256)
    let rejected = try RewardModel.lastValues(model, statPairs.map(\.rejected), batch: 256)
    let trainAcc = pairAccuracy(chosen: chosen, rejected: rejected)
    return RMTrainResult(
        steps: o.steps, trainLoss: recent.reduce(0, +) / Double(max(recent.count, 1)),
        initialAccuracy: initial, heldoutAccuracy: final, trainAccuracy: trainAcc,
        stats: RewardStats(rewards: chosen + rejected), seconds: Date().timeIntervalSince(start))
}

/// Mean Bradley-Terry loss of `pairs`; accumulates its gradient into `model.grads` (the caller zeroes
/// them). Only each row's last value gets a gradient: ∂L/∂r from `BradleyTerry.loss`, divided by the
/// number of pairs.
public func bradleyTerryLossAndGradient(_ model: Transformer, _ pairs: [TokenPair]) throws -> Double {
    let n = pairs.count
    let values = try model.sequenceValues(pairs.map(\.chosen) + pairs.map(\.rejected))
    var grads = values.map { [Float](repeating: 0, count: $0.count) }
    var loss = 0.0
    let scale = 1 / Float(n)
    for b in 0..<n {
        let (l, dc, dr) = BradleyTerry.loss(chosen: values[b].last!, rejected: values[n + b].last!)
        loss += Double(l)
        grads[b][grads[b].count - 1] = dc * scale
        grads[n + b][grads[n + b].count - 1] = dr * scale
    }
    try model.backwardSequenceValues(grads)
    return loss / Double(n)
}

/// Fraction of pairs whose chosen reward is above the rejected one (a tie counts half, so a constant
/// reward scores 50%).
public func pairAccuracy(_ model: Transformer, _ pairs: [TokenPair], batch: Int = 256) throws -> Double {
    guard !pairs.isEmpty else { return 0 }
    return pairAccuracy(
        chosen: try RewardModel.lastValues(model, pairs.map(\.chosen), batch: batch),
        rejected: try RewardModel.lastValues(model, pairs.map(\.rejected), batch: batch))
}

/// Pair accuracy of paired rewards (ties count half).
public func pairAccuracy(chosen: [Float], rejected: [Float]) -> Double {
    guard !chosen.isEmpty else { return 0 }
    let score = zip(chosen, rejected).reduce(0.0) { $0 + ($1.0 > $1.1 ? 1 : $1.0 == $1.1 ? 0.5 : 0) }
    return score / Double(chosen.count)
}
