// The per-token callback of `generate`: it sees every kept token in order, and returning false ends a row.
import XCTest

@testable import Model

final class GenerateCallbackTests: XCTestCase {
    private func model() throws -> Transformer {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        m.initializeWeights(seed: 5, std: 0.5)
        return m
    }

    func testCallbackSeesTheReturnedTokensInOrder() throws {
        let m = try model()
        let prompts: [[Int32]] = [[1, 2, 3], [4, 5, 6]]
        let options = SamplingOptions(temperature: 0.9, maxNewTokens: 9, seed: 3)
        var seen: [[Int32]] = [[], []]
        let g = try m.generate(prompts: prompts, options: options) { row, token in
            seen[row].append(token)
            return true
        }
        XCTAssertEqual(seen, g.tokens)
        let without = try m.generate(prompts: prompts, options: options)
        XCTAssertEqual(g.tokens, without.tokens, "the callback changes nothing")
    }

    func testReturningFalseStopsThatRowOnly() throws {
        let m = try model()
        let options = SamplingOptions(temperature: 0, maxNewTokens: 8)
        let full = try m.generate(prompts: [[1, 2, 3], [4, 5, 6]], options: options)
        var calls = 0
        let g = try m.generate(prompts: [[1, 2, 3], [4, 5, 6]], options: options) { row, _ in
            calls += 1
            return !(row == 0 && calls >= 5)
        }
        XCTAssertEqual(g.finish, [.stop, .length])
        XCTAssertEqual(g.tokens[0], Array(full.tokens[0].prefix(3)), "row 0 ends with the token it was refused at")
        XCTAssertEqual(g.tokens[1], full.tokens[1])
    }
}
