// The Bradley-Terry reward model: the loss gradient (closed form against finite differences, and through
// the transformer), a tiny model learning arithmetic preferences, reward statistics and the scorer.
import Foundation
import Model
import Tasks
import TestKit
import Wire
import XCTest

@testable import Roles

/// A tiny scalar-head model for fast tests.
func tinyRewardModel(seed: UInt64, hidden: Int = 32, layers: Int = 2) throws -> Transformer {
    let m = try Transformer(
        config: ModelConfig(
            hiddenSize: hidden, intermediateSize: 2 * hidden, numLayers: layers,
            numHeads: 4, vocabSize: 16, maxPositionEmbeddings: 32, scalarHead: true))
    m.initializeWeights(seed: seed, std: 0.1)
    return m
}

final class BradleyTerryTests: XCTestCase {
    /// ∂L/∂r_c and ∂L/∂r_r equal central differences of the loss, for small and large margins.
    func testLossGradientMatchesFiniteDifferences() {
        for (c, r) in [(0.0, 0.0), (1.3, -0.4), (-2.0, 0.5), (7.5, 1.0), (-6.0, 3.0), (0.01, 0.02)]
            as [(Double, Double)]
        {
            let h = 1e-3
            func L(_ c: Double, _ r: Double) -> Double {
                let m = c - r
                return m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m))
            }
            let (loss, dc, dr) = BradleyTerry.loss(chosen: Float(c), rejected: Float(r))
            XCTAssertEqual(Double(loss), L(c, r), accuracy: 1e-5)
            XCTAssertEqual(
                Double(dc), (L(c + h, r) - L(c - h, r)) / (2 * h), accuracy: 1e-5, "chosen \(c) rejected \(r)")
            XCTAssertEqual(
                Double(dr), (L(c, r + h) - L(c, r - h)) / (2 * h), accuracy: 1e-5, "chosen \(c) rejected \(r)")
            // and against the Float implementation itself
            let hf: Float = 1e-2
            let fdc =
                (BradleyTerry.loss(chosen: Float(c) + hf, rejected: Float(r)).loss
                    - BradleyTerry.loss(chosen: Float(c) - hf, rejected: Float(r)).loss) / (2 * hf)
            XCTAssertEqual(dc, fdc, accuracy: 2e-3)
        }
        XCTAssertEqual(BradleyTerry.loss(chosen: 0, rejected: 0).loss, Float(log(2.0)), accuracy: 1e-6)
        let far = BradleyTerry.loss(chosen: -200, rejected: 200)
        XCTAssertEqual(far.loss, 400, accuracy: 1e-3)
        XCTAssertEqual(far.dChosen, -1, accuracy: 1e-6)
        XCTAssertEqual(BradleyTerry.loss(chosen: 200, rejected: -200).loss, 0, accuracy: 1e-6)
    }

    /// The gradient the trainer accumulates through `backwardSequenceValues` matches finite differences of
    /// the mean pair loss in the parameters (pairs of different lengths).
    func testGradientThroughTheModelMatchesFiniteDifferences() throws {
        let model = try tinyRewardModel(seed: 3, hidden: 16, layers: 1)
        let enc = RewardEncoder()
        let pairs = try [("12+7=", "19", "18"), ("5+5=", "10", "1"), ("300+400=", "700", "7000")].map {
            let r = try enc.rows(PreferencePair(prompt: $0.0, chosen: $0.1, rejected: $0.2))
            return TokenPair(chosen: r.chosen, rejected: r.rejected)
        }
        model.zeroGrad()
        _ = try bradleyTerryLossAndGradient(model, pairs)
        let analytic = model.grads.toArray()
        let x = model.params.pointer
        let h: Float = 1e-2
        // the three largest coordinates, the score head and a layer-0 weight
        var indices = Array(analytic.indices.sorted { abs(analytic[$0]) > abs(analytic[$1]) }.prefix(3))
        indices.append(model.layout.score + 5)
        indices.append(model.layout.layers[0].wq + 17)
        for i in indices {
            let saved = x[i]
            x[i] = saved + h
            let lp = try pairLoss(model, pairs)
            x[i] = saved - h
            let lm = try pairLoss(model, pairs)
            x[i] = saved
            let fd = (lp - lm) / Double(2 * h)
            XCTAssertEqual(Double(analytic[i]), fd, accuracy: 2e-2 * abs(fd) + 2e-4, "parameter \(i)")
        }
    }

    private func pairLoss(_ m: Transformer, _ pairs: [TokenPair]) throws -> Double {
        let c = try m.sequenceValues(pairs.map(\.chosen)).map { $0.last! }
        let r = try m.sequenceValues(pairs.map(\.rejected)).map { $0.last! }
        return zip(c, r).reduce(0.0) { $0 + Double(BradleyTerry.loss(chosen: $1.0, rejected: $1.1).loss) }
            / Double(pairs.count)
    }
}

final class RewardModelTrainingTests: XCTestCase {
    /// A tiny reward model trained from scratch on generated single-digit addition preferences ranks
    /// held-out pairs, on prompts it never saw, well above chance (measured 70-80% over seeds and settings; chance is 50%).
    func testTinyModelLearnsArithmeticPreferences() throws {
        let task = ArithTask(maxOperand: 9)
        let (train, held) = ArithPreferences.split(task: task, train: 4000, heldout: 400, heldoutFraction: 0.2, seed: 1)
        XCTAssertEqual(train.count, 4000)
        XCTAssertEqual(held.count, 400)
        XCTAssertTrue(Set(train.map(\.prompt)).isDisjoint(with: held.map(\.prompt)))
        let enc = RewardEncoder()
        func rows(_ p: [PreferencePair]) throws -> [TokenPair] {
            try p.map {
                let r = try enc.rows($0)
                return TokenPair(chosen: r.chosen, rejected: r.rejected)
            }
        }
        let model = try tinyRewardModel(seed: 1)
        var o = RMTrainOptions()
        o.steps = 800
        o.batch = 32
        o.lr = 1e-3
        o.evalEvery = 0
        o.logEvery = 200
        o.statsSamples = 512
        let r = try trainRewardModel(model, train: try rows(train), heldout: try rows(held), options: o) { print($0) }
        XCTAssertLessThan(r.initialAccuracy, 0.65)
        XCTAssertGreaterThan(r.heldoutAccuracy, 0.62, "held-out pair accuracy \(r.heldoutAccuracy)")
        XCTAssertEqual(r.stats.count, 512)
        XCTAssertTrue(r.stats.std > 0 && r.stats.mean.isFinite)
        print(
            String(
                format: "tiny RM: held-out %.1f%% (from %.1f%%) in %.1fs", r.heldoutAccuracy * 100,
                r.initialAccuracy * 100, r.seconds))
    }
}

final class RewardModelFilesTests: XCTestCase {
    /// reward_stats.json round-trips; a missing file is nil; a malformed one is an error naming it.
    func testStatsFileRoundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertNil(try RewardStats.load(directory: dir))
        let stats = RewardStats(rewards: [1, 2, 3, 6])
        XCTAssertEqual(stats.mean, 3)
        XCTAssertEqual(stats.std, (14.0 / 4).squareRoot(), accuracy: 1e-12)
        try stats.save(directory: dir)
        XCTAssertEqual(try RewardStats.load(directory: dir), stats)
        try Data("{\"mean\": 1}".utf8).write(to: dir.appendingPathComponent(RewardStats.fileName))
        XCTAssertThrowsError(try RewardStats.load(directory: dir)) {
            XCTAssertTrue("\($0)".contains(RewardStats.fileName), "\($0)")
        }
    }

    /// A saved reward model loads with its stats; the scorer returns the last-token value, normalised
    /// when asked, ignores trailing PAD, and refuses normalisation without stats.
    func testScorerNormalisation() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyRewardModel(seed: 9)
        try model.save(directory: dir)
        let stats = RewardStats(mean: 0.25, std: 2, count: 10)
        try stats.save(directory: dir)
        let rm = try RewardModel.load(directory: dir)
        XCTAssertEqual(rm.stats, stats)
        let item = ScoreItem(promptTokens: [0, 0, 0, 4, 12, 5, 15], responseTokens: [9, 1], answer: "7")
        let raw = try model.sequenceValues([item.promptTokens + item.responseTokens])[0].last!
        XCTAssertNotEqual(raw, 0)
        XCTAssertEqual(try rm.scorer(normalize: false)(item), raw, accuracy: 1e-5)
        XCTAssertEqual(try rm.scorer(normalize: true)(item), (raw - 0.25) / 2, accuracy: 1e-5)
        var padded = item
        padded.responseTokens += [0, 0]
        XCTAssertEqual(try rm.scorer(normalize: false)(padded), raw, accuracy: 1e-5)
        XCTAssertThrowsError(try rm.scorer(normalize: false)(ScoreItem(promptTokens: [3], responseTokens: [99])))
        let bare = try RewardModel(transformer: model)
        XCTAssertThrowsError(try bare.scorer(normalize: true)) { XCTAssertTrue("\($0)".contains("reward_stats.json")) }
        XCTAssertThrowsError(try RewardModel.load(directory: dir.appendingPathComponent("missing"))) {
            XCTAssertTrue("\($0)".contains("missing"), "\($0)")
        }
    }

    /// A language model becomes a scalar-head model with the same transformer weights and a zero head.
    func testFromLanguageModelCopiesWeights() throws {
        let lm = try Transformer(
            config: ModelConfig(
                hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2,
                vocabSize: 16, maxPositionEmbeddings: 32))
        lm.initializeWeights(seed: 4)
        let rm = try lm.scalarHeadCopy()
        XCTAssertTrue(rm.config.scalarHead)
        XCTAssertEqual(rm.tensor("model.layers.0.mlp.up_proj.weight"), lm.tensor("model.layers.0.mlp.up_proj.weight"))
        XCTAssertEqual(rm.tensor("model.embed_tokens.weight"), lm.tensor("model.embed_tokens.weight"))
        XCTAssertEqual(rm.tensor("score.weight")!, [Float](repeating: 0, count: 16))
        XCTAssertEqual(try rm.sequenceValues([[3, 4, 5]])[0], [0, 0, 0])
        XCTAssertEqual(try pairAccuracy(rm, [TokenPair(chosen: [3, 4], rejected: [3, 5])]), 0.5)
        XCTAssertEqual(pairAccuracy(chosen: [1, 2, 3, 4], rejected: [0, 2, 5, 3]), 2.5 / 4)
    }

    /// Generated wrong answers differ from the right one and are well-formed integers; JSONL round-trips
    /// and a bad line is an error naming file and line.
    func testArithPreferencesAndJSONL() throws {
        var rng = Xoshiro256(seed: 5)
        for answer in ["0", "7", "10", "99", "522", "1998", "-41"] {
            for _ in 0..<200 {
                let w = ArithPreferences.wrongAnswer(answer, &rng)
                XCTAssertNotEqual(w, answer)
                XCTAssertEqual(String(Int(w)!), w, "\(w) is not a canonical integer")
                XCTAssertTrue(!w.hasPrefix("-") || answer.hasPrefix("-"), "\(answer) -> \(w)")
            }
        }
        let pairs = ArithPreferences.make(task: ArithTask(), count: 50, seed: 3)
        XCTAssertEqual(pairs.count, 50)
        for p in pairs {
            let chosen = ScoreItem(
                promptTokens: [], responseTokens: try CharTokenizer().encode(p.chosen) + [1], answer: p.chosen)
            XCTAssertEqual(ArithExactMatch().reward(chosen), 1, "\(p)")
            XCTAssertEqual(Int(p.prompt.dropLast().split(separator: "+").map { Int($0)! }.reduce(0, +)), Int(p.chosen))
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("prefs.jsonl")
        try Data(PreferencePair.jsonl(pairs).utf8).write(to: file)
        XCTAssertEqual(try PreferencePair.read(path: file.path), pairs)
        try Data((PreferencePair.jsonl(pairs) + "{\"prompt\": \"1+1=\"}\n").utf8).write(to: file)
        XCTAssertThrowsError(try PreferencePair.read(path: file.path)) {
            XCTAssertTrue("\($0)".contains("prefs.jsonl:51"), "\($0)")
        }
        let row = try RewardEncoder().row(prompt: "1+2=", response: "3")
        XCTAssertEqual(row, [3, 12, 4, 15, 5, 1], "prompt, response, EOS; no padding")
        XCTAssertThrowsError(
            try RewardEncoder().row(prompt: "123+4567=", response: "3"), "longer than the prompt width")
    }
}
