// `rpp bench rl`: times the RL core on a B×T batch (default 1024 × 512) — advantages, then policy loss and its
// gradient — against two baselines measured in the same run: the plain memory traffic of the work (one pass
// that reads the inputs and writes the outputs) and a naive unfused implementation (per-row Double arrays,
// one pass per step with map/zip/reduce).
import ArgumentParser
import Foundation
import Model
import RLCore
import RunKit

/// `rpp bench rl`: advantages + loss + gradient of a rollout batch, with same-run baselines.
struct BenchRL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rl",
        abstract: "Time advantages + policy loss + gradient against a memory pass and a naive implementation.")

    @Option(help: "Samples in the batch (B).")
    var samples = 1024
    @Option(help: "Response positions per sample (T).")
    var tokens = 512
    @Option(help: "Timed repetitions per row (the median is reported).")
    var repeats = 15
    @Option(
        help:
            "Advantage estimator, an algorithm.estimator value (reinforce, reinforce_baseline, rloo, group_norm, dr_grpo, gae)."
    )
    var estimator = "reinforce"

    mutating func validate() throws {
        guard samples >= 4, samples % 4 == 0, samples <= 65_536 else {
            throw ValidationError("--samples must be a multiple of 4 in 4...65536")
        }
        guard tokens >= 1, tokens <= 65_536 else { throw ValidationError("--tokens must be in 1...65536") }
        guard repeats >= 1, repeats <= 1000 else { throw ValidationError("--repeats must be in 1...1000") }
        guard AdvantageEstimator(rawValue: estimator) != nil else {
            let current = RunConfig.renamedValues["algorithm.estimator"]?[estimator].map {
                " ('\(estimator)' is now '\($0)')"
            }
            throw ValidationError(
                "--estimator must be one of "
                    + AdvantageEstimator.allCases.map(\.rawValue).joined(separator: ", ") + (current ?? ""))
        }
    }

    mutating func run() throws {
        let data = RLBenchData(samples: samples, tokens: tokens)
        var config = RLConfig(estimator: AdvantageEstimator(rawValue: estimator) ?? .reinforce, samplesPerPrompt: 4)
        config.lambda = 0.95
        config.epsHigh = 0.28
        var sink = 0.0

        let memory = time { sink += data.memoryPass() }
        let advFloat = try time { sink += Double(try computeAdvantages(data.floatInput, config: config).advantages[0]) }
        let advantages = try computeAdvantages(data.floatInput, config: config).advantages
        let lossFloat = try time { sink += try policyLoss(data.policyInput(advantages), config: config).loss }
        let totalFloat = try time {
            let a = try computeAdvantages(data.floatInput, config: config)
            sink += try policyLoss(data.policyInput(a.advantages), config: config).loss
        }
        let totalDouble = try time {
            let a = try computeAdvantages(data.doubleInput, config: config)
            sink += try policyLoss(data.doublePolicyInput(a.advantages), config: config).loss
        }
        let naive = time { sink += data.naive(config: config).loss }

        // The naive path must compute the same thing.
        let core = try computeAdvantages(data.doubleInput, config: config)
        let coreLoss = try policyLoss(data.doublePolicyInput(core.advantages), config: config)
        let reference = data.naive(config: config)
        let advDiff = zip(core.advantages, reference.advantages).map { abs($0 - $1) }.max() ?? 0
        let gradDiff = zip(coreLoss.gradLogprobs, reference.grad).map { abs($0 - $1) }.max() ?? 0

        print(
            "rpp bench rl: \(samples) samples × \(tokens) tokens, estimator \(estimator), "
                + "\(Int(data.validTokens)) valid tokens, median of \(repeats) runs")
        print(ModelBench.cpuLine())
        let rows: [(String, Double)] = [
            ("memory pass (read inputs, write outputs once)", memory),
            ("advantages, Float", advFloat),
            ("policy loss + gradient, Float", lossFloat),
            ("advantages + loss + gradient, Float", totalFloat),
            ("advantages + loss + gradient, Double", totalDouble),
            ("naive unfused (Double rows, map/zip)", naive),
        ]
        print(
            pad("step", 48) + pad("ms", 10, left: true) + pad("× memory", 10, left: true)
                + pad("naive ÷ this", 14, left: true))
        for (name, ms) in rows {
            print(
                pad(name, 48) + pad(String(format: "%.2f", ms), 10, left: true)
                    + pad(String(format: "%.2f", ms / memory), 10, left: true)
                    + pad(String(format: "%.1f", naive / ms), 14, left: true))
        }
        print(
            String(
                format: "check: max |A core - A naive| = %.2e, max |grad core - grad naive| = %.2e (sink %.3g)",
                advDiff, gradDiff, sink))
    }

    private func time(_ body: () throws -> Void) rethrows -> Double {
        try body()  // warm-up
        var samplesMs: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<repeats {
            let elapsed = try clock.measure(body)
            samplesMs.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
        }
        return samplesMs.sorted()[samplesMs.count / 2]
    }

    private func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return left ? fill + s : s + fill
    }
}

/// A synthetic rollout batch: right-padded responses of random length, groups of 4.
struct RLBenchData {
    let shape: TokenShape
    let floatInput: AdvantageInput<Float>
    let doubleInput: AdvantageInput<Double>
    let newLogprobs: [Float]
    let values: [Float]
    let validTokens: Double

    init(samples: Int, tokens: Int) {
        var rng = Xoshiro256(seed: 0x5EED)
        shape = TokenShape(samples: samples, tokens: tokens)
        var mask = [Float](repeating: 0, count: shape.count)
        for b in 0..<samples {
            let length = tokens / 4 + Int(rng.next() % UInt64(tokens - tokens / 4 + 1))
            for t in 0..<min(length, tokens) { mask[b * tokens + t] = 1 }
        }
        let logp = (0..<shape.count).map { _ in -Float(Double.random(in: 0..<1, using: &rng) * 4) }
        let ref = logp.map { $0 + Float(Double.random(in: 0..<1, using: &rng) - 0.5) * 0.4 }
        newLogprobs = logp.map { $0 + Float(Double.random(in: 0..<1, using: &rng) - 0.5) * 0.6 }
        values = (0..<shape.count).map { _ in Float(Double.random(in: 0..<1, using: &rng) - 0.5) }
        let rewards = (0..<samples).map { _ in Double.random(in: 0..<1, using: &rng) < 0.5 ? 0.0 : 1.0 }
        floatInput = AdvantageInput(
            shape: shape, rewards: rewards, mask: mask, logprobs: logp, refLogprobs: ref,
            values: values)
        doubleInput = AdvantageInput(
            shape: shape, rewards: rewards, mask: mask.map(Double.init),
            logprobs: logp.map(Double.init), refLogprobs: ref.map(Double.init),
            values: values.map(Double.init))
        validTokens = Double(mask.reduce(0, +))
    }

    func policyInput(_ advantages: [Float]) -> PolicyLossInput<Float> {
        PolicyLossInput(
            shape: shape, mask: floatInput.mask, logprobs: newLogprobs, oldLogprobs: floatInput.logprobs,
            advantages: advantages)
    }

    func doublePolicyInput(_ advantages: [Double]) -> PolicyLossInput<Double> {
        PolicyLossInput(
            shape: shape, mask: doubleInput.mask, logprobs: newLogprobs.map(Double.init),
            oldLogprobs: doubleInput.logprobs, advantages: advantages)
    }

    /// The memory traffic of the work: read mask, logp, ref, new logp and values once; write five outputs.
    func memoryPass() -> Double {
        let n = shape.count
        func output() -> [Float] { [Float](unsafeUninitializedCapacity: n) { _, c in c = n } }
        var a = output()
        var b = output()
        var c = output()
        var d = output()
        var e = output()
        var sum: Float = 0
        floatInput.mask.withUnsafeBufferPointer { m in
            floatInput.logprobs.withUnsafeBufferPointer { l in
                (floatInput.refLogprobs ?? []).withUnsafeBufferPointer { r in
                    newLogprobs.withUnsafeBufferPointer { p in
                        values.withUnsafeBufferPointer { v in
                            a.withUnsafeMutableBufferPointer { o0 in
                                b.withUnsafeMutableBufferPointer { o1 in
                                    c.withUnsafeMutableBufferPointer { o2 in
                                        d.withUnsafeMutableBufferPointer { o3 in
                                            e.withUnsafeMutableBufferPointer { o4 in
                                                for i in 0..<min(n, r.count) {
                                                    o0[i] = m[i]
                                                    o1[i] = l[i]
                                                    o2[i] = r[i]
                                                    o3[i] = p[i]
                                                    o4[i] = v[i]
                                                    sum += m[i]
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Double(sum) + Double(a[n / 2] + b[n / 3] + c[n / 4] + d[n / 5] + e[n / 6])
    }

    /// A straightforward implementation: per-row Double arrays, one pass per formula (reinforce-style, no critic).
    func naive(config: RLConfig) -> (advantages: [Double], grad: [Double], loss: Double) {
        let t = shape.tokens
        let rows = (0..<shape.samples).map { b in (b * t)..<((b + 1) * t) }
        let mask = rows.map { Array(doubleInput.mask[$0]) }
        let logp = rows.map { Array(doubleInput.logprobs[$0]) }
        let refAll = doubleInput.refLogprobs ?? doubleInput.logprobs
        let ref = rows.map { Array(refAll[$0]) }
        let valuesAll = doubleInput.values ?? doubleInput.logprobs
        let values = rows.map { Array(valuesAll[$0]) }
        let newp = rows.map { r in newLogprobs[r].map(Double.init) }
        let shaped = (try? shapeRewards(doubleInput.rewards, config: config)) ?? doubleInput.rewards
        let kl = zip(zip(logp, ref), mask).map { lr, m in
            zip(zip(lr.0, lr.1), m).map { p, mm in mm == 0 ? 0 : min(max(p.0 - p.1, -10), 10) }
        }
        let tokenRewards = kl.enumerated().map { b, row in
            let last = mask[b].lastIndex(where: { $0 != 0 })
            return row.enumerated().map { i, k in 0 - config.klCoef * k + (i == last ? shaped[b] : 0) }
        }
        var advantages: [[Double]] = tokenRewards.enumerated().map { b, row in
            var g = 0.0
            var out = [Double](repeating: 0, count: row.count)
            let v =
                config.estimator == .gae
                ? values[b].enumerated().map { mask[b][$0.offset] == 0 ? 0 : $0.element }
                : [Double](repeating: 0, count: row.count)
            for i in stride(from: row.count - 1, through: 0, by: -1) {
                let next = i + 1 < row.count ? v[i + 1] : 0
                if config.estimator == .gae {
                    g = row[i] + config.gamma * next - v[i] + config.gamma * config.lambda * g
                } else {
                    g = mask[b][i] * row[i] + config.gamma * g
                }
                out[i] = g
            }
            return out
        }
        if config.estimator.normalisesGlobally {
            let valid = zip(advantages.joined(), mask.joined()).filter { $0.1 != 0 }.map(\.0)
            let mean = valid.reduce(0, +) / Double(valid.count)
            let variance = valid.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(valid.count)
            let std = max(variance, 1e-8).squareRoot()
            advantages = advantages.map { $0.map { ($0 - mean) / std } }
        }
        advantages = advantages.map { $0.map { min(max($0, -config.advantageClip), config.advantageClip) } }
        let ratio = zip(newp, logp).map { zip($0, $1).map { exp(min(max($0 - $1, -20), 20)) } }
        let s1 = zip(ratio, advantages).map { zip($0, $1).map { $0 * $1 } }
        let s2 = zip(ratio, advantages).map {
            zip($0, $1).map { min(max($0, 1 - config.epsLow), 1 + config.epsHigh) * $1 }
        }
        let perToken = zip(s1, s2).map { zip($0, $1).map { -min($0, $1) } }
        let count = mask.joined().reduce(0, +)
        let loss = zip(perToken, mask).map { zip($0, $1).map { $0 * $1 }.reduce(0, +) }.reduce(0, +) / count
        let grad = (0..<shape.samples).map { b in
            (0..<t).map { i in
                mask[b][i] == 0 || s2[b][i] < s1[b][i] ? 0 : -ratio[b][i] * advantages[b][i] / count
            }
        }
        return (Array(advantages.joined()), Array(grad.joined()), loss)
    }
}
