import Model
// The arithmetic toy: its character tokenizer, token layouts and splits, and the SFT loop's stop rules.
import XCTest

@testable import Tasks

final class ArithTaskTests: XCTestCase {
    func testTokenizerAndTask() throws {
        let t = CharTokenizer()
        XCTAssertEqual(try t.encode("37+485="), [5, 9, 12, 6, 10, 7, 15])
        XCTAssertEqual(t.decode([0, 5, 9, 12, 1]), "37+")
        XCTAssertThrowsError(try t.encode("3a"))
        let task = ArithTask()
        let (inputs, targets, mask, starts, T) = try task.sftBatch([ArithProblem(prompt: "37+485=", answer: "522")])
        XCTAssertEqual(T, 12)
        XCTAssertEqual(starts, [1], "one padding token before the 7-token prompt")
        XCTAssertEqual(try task.promptTokens(ArithProblem(prompt: "37+485=", answer: "522")), [5, 9, 12, 6, 10, 7, 15])
        XCTAssertEqual(inputs, [0, 5, 9, 12, 6, 10, 7, 15, 7, 4, 4, 1])
        XCTAssertEqual(targets, [5, 9, 12, 6, 10, 7, 15, 7, 4, 4, 1, 0])
        XCTAssertEqual(mask, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
        let (v, te) = task.splits(validation: 50, test: 50, seed: 7)
        XCTAssertTrue(Set(v.map(\.prompt)).isDisjoint(with: te.map(\.prompt)))
        XCTAssertEqual(v, task.splits(validation: 50, test: 50, seed: 7).validation)
        for p in v {
            let parts = p.prompt.dropLast().split(separator: "+")
            XCTAssertEqual(Int(parts[0])! + Int(parts[1])!, Int(p.answer)!)
        }
    }

    func testSFTStopsAtTargetOrFailsAtCap() throws {
        let task = ArithTask()
        let (val, test) = task.splits(validation: 20, test: 20, seed: 3)
        let cfg = ModelConfig(
            hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, vocabSize: 16, maxPositionEmbeddings: 16)
        var o = SFTOptions()
        o.batch = 8
        o.evalEvery = 2
        o.maxSteps = 4
        o.logEvery = 1
        o.targetAccuracy = 0  // reached at the first evaluation
        let m = try Transformer(config: cfg)
        m.initializeWeights(seed: 1)
        var lines: [String] = []
        let r = try runSFT(model: m, task: task, validation: val, test: test, options: o) { lines.append($0) }
        XCTAssertEqual(r.steps, 2)
        XCTAssertTrue(r.lastLoss.isFinite && r.lastLoss > 0)
        XCTAssertTrue(lines.contains { $0.contains("validation accuracy") })
        o.targetAccuracy = 1.01  // unreachable: the cap is a typed failure
        XCTAssertThrowsError(try runSFT(model: m, task: task, validation: val, test: test, options: o) { _ in }) { e in
            XCTAssertTrue(e is SFTStepCapError, "\(e)")
            XCTAssertTrue("\(e)".contains("step cap of 4"))
        }
    }

    func testSFTLossFallsOnTinyModel() throws {
        // 40 steps of the real loop on a small model lower the answer-token loss.
        let task = ArithTask()
        let (val, test) = task.splits(validation: 10, test: 10, seed: 3)
        let m = try Transformer(
            config: ModelConfig(
                hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2,
                vocabSize: 16, maxPositionEmbeddings: 16))
        m.initializeWeights(seed: 2)
        var o = SFTOptions()
        o.batch = 32
        o.evalEvery = 1000
        o.maxSteps = 40
        o.logEvery = 1
        o.warmup = 5
        o.lr = 3e-3
        var losses: [Double] = []
        _ = try? runSFT(model: m, task: task, validation: val, test: test, options: o) { line in
            if let r = line.range(of: "loss ") { losses.append(Double(line[r.upperBound...].prefix { $0 != " " })!) }
        }
        XCTAssertEqual(losses.count, 40)
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, losses[0] - 0.7)
    }
}
