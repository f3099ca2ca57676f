import Foundation
import Model
import TestKit
import Wire
import XCTest

@testable import Roles

final class ReferenceServiceTests: XCTestCase {
    func loadFixture() throws -> (Transformer, [[Int32]], [[Double]]) {
        let dir = Fixtures.url("model/llama-gqa")
        let model = try Transformer.load(directory: dir)
        let expected =
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json")))
            as! [String: Any]
        let rows = (expected["tokens"] as! [[Int]]).map { $0.map(Int32.init) }
        return (model, rows, expected["logprobs"] as! [[Double]])
    }

    /// Over a real socket, the server's reference log-probs of response tokens equal transformers' numbers.
    func testReferenceLogprobsMatchTransformers() throws {
        let (model, rows, want) = try loadFixture()
        let address = TestAddress.inproc()
        let server = try RequestServer(
            name: "reference", address: address, codec: FrameCodec(),
            handler: ReferenceService(model: model).handle)
        server.start()
        defer { server.stop() }
        let client = try ServiceClient(service: "reference", addresses: [address], codec: FrameCodec())
        let split = rows.filter { $0.count >= 4 }
        XCTAssertFalse(split.isEmpty)
        let request = RefLogprobRequest(
            id: 9,
            sequences: split.map {
                TokenSequence(promptTokens: Array($0[..<3]), responseTokens: Array($0[3...]))
            })
        guard case .refLogprobReply(let reply) = try client.call(.refLogprobRequest(request), timeout: .seconds(10))
        else {
            return XCTFail("expected a reply")
        }
        XCTAssertEqual(reply.id, 9)
        let wantSplit = zip(rows, want).filter { $0.0.count >= 4 }.map { $0.1 }
        for (got, w) in zip(reply.logprobs, wantSplit) {
            let tail = Array(w[2...])  // logprobs[i] scores tokens[i + 1]; the response starts at token 3
            XCTAssertEqual(got.count, tail.count)
            for (a, b) in zip(got, tail) { XCTAssertEqual(Double(a), b, accuracy: 1e-4) }
        }
    }

    func testLongRequestsAreScoredInPassesWithTheSameLogprobs() throws {
        let (model, rows, _) = try loadFixture()
        let request = RefLogprobRequest(
            id: 3,
            sequences: rows.filter { $0.count >= 4 }.map {
                TokenSequence(promptTokens: Array($0[..<3]), responseTokens: Array($0[3...]))
            })
        let whole = try ReferenceService(model: model, tokensPerPass: 1 << 20).logprobs(request)
        let inPasses = try ReferenceService(model: model, tokensPerPass: 9).logprobs(request)
        XCTAssertEqual(whole.count, inPasses.count)
        for (a, b) in zip(whole, inPasses) {
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        }
        XCTAssertEqual(ReferenceService.passes([5, 5, 5, 20, 1], tokensPerPass: 10), [0..<2, 2..<3, 3..<4, 4..<5])
        XCTAssertEqual(ReferenceService.passes([], tokensPerPass: 10), [])
    }

    func testBadRequestsGetErrorsAndTheServerGoesOn() throws {
        let (model, rows, _) = try loadFixture()
        let address = TestAddress.inproc()
        let server = try RequestServer(
            name: "reference", address: address, codec: FrameCodec(),
            handler: ReferenceService(model: model).handle)
        server.start()
        defer { server.stop() }
        let client = try ServiceClient(service: "reference", addresses: [address], codec: FrameCodec())
        let outside = RefLogprobRequest(id: 1, sequences: [TokenSequence(promptTokens: [1], responseTokens: [100_000])])
        XCTAssertThrowsError(try client.call(.refLogprobRequest(outside), timeout: .seconds(5))) {
            XCTAssertTrue("\($0)".contains("outside the vocabulary"), "\($0)")
        }
        XCTAssertThrowsError(
            try client.call(
                .heartbeat(
                    Heartbeat(
                        workerID: "w", role: .rollout, sequence: 1,
                        policyVersion: 0, unixMillis: 0)), timeout: .seconds(5))
        ) {
            XCTAssertTrue("\($0)".contains("answers ref_logprob_request"), "\($0)")
        }
        let good = RefLogprobRequest(
            id: 2,
            sequences: [
                TokenSequence(
                    promptTokens: Array(rows[1][..<2]),
                    responseTokens: Array(rows[1][2...]))
            ])
        XCTAssertNoThrow(try client.call(.refLogprobRequest(good), timeout: .seconds(5)))
        XCTAssertEqual(server.stats.errors, 2)
        XCTAssertEqual(server.stats.requests, 1)
    }
}

final class RewardServiceTests: XCTestCase {
    let lengthScorer: Scorer = { item in Float(item.responseTokens.count) }

    func testScoresEveryItem() throws {
        let address = TestAddress.inproc()
        let server = try RequestServer(
            name: "reward", address: address, codec: FrameCodec(),
            handler: RewardService(name: "length", score: lengthScorer).handle)
        server.start()
        defer { server.stop() }
        let client = try ServiceClient(service: "reward", addresses: [address], codec: FrameCodec())
        let request = ScoreRequest(
            id: 4,
            items: [
                ScoreItem(promptTokens: [2], responseTokens: [3, 4]),
                ScoreItem(promptTokens: [2], responseTokens: [5]),
            ])
        XCTAssertEqual(
            try client.call(.scoreRequest(request), timeout: .seconds(5)),
            .scoreReply(ScoreReply(id: 4, rewards: [2, 1])))
    }

    func testNonFiniteRewardIsAnError() throws {
        let service = RewardService(name: "broken", score: { _ in .nan })
        XCTAssertThrowsError(
            try service.handle(
                .scoreRequest(
                    ScoreRequest(
                        id: 1,
                        items: [
                            ScoreItem(promptTokens: [1], responseTokens: [1])
                        ])))
        ) { XCTAssertTrue("\($0)".contains("non-finite")) }
    }

    /// A frame the server cannot read still gets an answer (an Error message), and serving goes on.
    func testGarbageGetsAnErrorReply() throws {
        let address = TestAddress.inproc()
        let server = try RequestServer(
            name: "reward", address: address, codec: FrameCodec(),
            handler: RewardService(name: "length", score: lengthScorer).handle)
        server.start()
        defer { server.stop() }
        let raw = try Socket(.req)
        try raw.connect(address)
        try raw.send(Array("hello".utf8), timeout: .seconds(2))
        let reply = try FrameCodec().decode(try raw.receive(timeout: .seconds(5)))
        guard case .error(let e) = reply else { return XCTFail("\(reply)") }
        XCTAssertEqual(e.code, .badRequest)
        XCTAssertTrue(e.message.contains("truncated header"), e.message)
        XCTAssertEqual(server.stats.badFrames, 1)
    }

    /// With two reward servers, stopping one does not stop the scoring.
    func testFailoverToAnotherServer() throws {
        let a = TestAddress.inproc("a")
        let b = TestAddress.inproc("b")
        let first = try RequestServer(
            name: "reward-a", address: a, codec: FrameCodec(),
            handler: RewardService(name: "a", score: { _ in 1 }).handle)
        let second = try RequestServer(
            name: "reward-b", address: b, codec: FrameCodec(),
            handler: RewardService(name: "b", score: { _ in 2 }).handle)
        first.start()
        second.start()
        defer { second.stop() }
        let client = try ServiceClient(
            service: "reward", addresses: [a, b], codec: FrameCodec(),
            resendInterval: .milliseconds(200))
        let request = WireMessage.scoreRequest(
            ScoreRequest(id: 1, items: [ScoreItem(promptTokens: [1], responseTokens: [1])]))
        var seen = Set<Float>()
        for _ in 0..<6 {
            if case .scoreReply(let r) = try client.call(request, timeout: .seconds(5)) { seen.formUnion(r.rewards) }
        }
        XCTAssertEqual(seen, [1, 2], "requests are spread over both servers")
        first.stop()
        for _ in 0..<6 {
            guard case .scoreReply(let r) = try client.call(request, timeout: .seconds(5)) else { return XCTFail() }
            XCTAssertEqual(r.rewards, [2])
        }
    }

    func testNoServerTimesOutWithAClearMessage() throws {
        let client = try ServiceClient(service: "reward", addresses: [TestAddress.inproc()], codec: FrameCodec())
        let request = WireMessage.scoreRequest(
            ScoreRequest(id: 1, items: [ScoreItem(promptTokens: [1], responseTokens: [1])]))
        XCTAssertThrowsError(try client.call(request, timeout: .milliseconds(300))) {
            XCTAssertTrue("\($0)".contains("is a reward server running"), "\($0)")
        }
    }
}
