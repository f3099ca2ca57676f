import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

/// What the reward and reference servers refuse: oversized requests, replayed frames, and log floods.
final class ServicesSecurityTests: XCTestCase {
    let scorer: Scorer = { item in Float(item.responseTokens.count) }

    func testAScoreRequestOverTheItemCapGetsAnErrorTheClientSees() throws {
        let address = TestAddress.inproc()
        let server = try RequestServer(
            name: "reward", address: address, codec: FrameCodec(), limits: .serviceRequest,
            handler: RewardService(name: "length", score: scorer).handle)
        server.start()
        defer { server.stop() }
        let client = try ServiceClient(service: "reward", addresses: [address], codec: FrameCodec())
        defer { client.close() }
        let item = ScoreItem(promptTokens: [1], responseTokens: [2])
        let full = ScoreRequest(id: 1, items: Array(repeating: item, count: ScoreRequest.maxItems))
        guard case .scoreReply(let r) = try client.call(.scoreRequest(full), timeout: .seconds(30)) else {
            return XCTFail("no score reply at the cap")
        }
        XCTAssertEqual(r.rewards.count, ScoreRequest.maxItems)
        let over = ScoreRequest(id: 2, items: Array(repeating: item, count: ScoreRequest.maxItems + 1))
        XCTAssertThrowsError(try client.call(.scoreRequest(over), timeout: .seconds(30))) { error in
            let e = error as? RemoteError
            XCTAssertEqual(e?.code, .badRequest, "\(error)")
            XCTAssertTrue("\(error)".contains("\(ScoreRequest.maxItems)"), "\(error)")
        }
        XCTAssertThrowsError(try RewardService(name: "length", score: scorer).handle(.scoreRequest(over))) {
            XCTAssertTrue("\($0)".contains("at most \(ScoreRequest.maxItems)"), "\($0)")
        }
    }

    func testACapturedSignedRequestIsNotAnsweredAgain() throws {
        let key = try ClusterKey(bytes: Array(repeating: 4, count: 32))
        let address = TestAddress.inproc()
        let server = try RequestServer(
            name: "reward", address: address, codec: FrameCodec(key: key),
            handler: RewardService(name: "length", score: scorer).handle)
        server.start()
        defer { server.stop() }
        let raw = try Socket(.req)
        defer { raw.close() }
        try raw.connect(address)
        let captured = FrameCodec(key: key).encode(
            .scoreRequest(
                ScoreRequest(
                    id: 9,
                    items: [
                        ScoreItem(promptTokens: [1], responseTokens: [2, 3])
                    ])))
        try raw.send(captured, timeout: .seconds(5))
        guard case .scoreReply(let first) = try FrameCodec(key: key).decode(try raw.receive(timeout: .seconds(5)))
        else {
            return XCTFail("the first copy is answered")
        }
        XCTAssertEqual(first.rewards, [2])
        try raw.send(captured, timeout: .seconds(5))
        let again = try FrameCodec(key: key).decode(try raw.receive(timeout: .seconds(5)))
        guard case .error(let e) = again else { return XCTFail("a replayed request was served: \(again)") }
        XCTAssertEqual(e.code, .unauthenticated)
        XCTAssertTrue(e.message.contains("replayed"), e.message)
        XCTAssertEqual(server.stats.requests, 1)
    }

    func testAStreamOfGarbageFramesWritesABoundedNumberOfLogLines() throws {
        let address = TestAddress.inproc()
        let lines = LineSink()
        let server = try RequestServer(
            name: "reward", address: address, codec: FrameCodec(),
            handler: RewardService(name: "length", score: scorer).handle,
            log: { lines.add($0) })
        server.start()
        let raw = try Socket(.req)
        try raw.connect(address)
        for i in 0..<200 {
            try raw.send(Array("garbage \(i)".utf8), timeout: .seconds(5))
            _ = try raw.receive(timeout: .seconds(5))
        }
        raw.close()
        XCTAssertEqual(server.stats.badFrames, 200)
        server.stop()
        let written = lines.all
        let burst = LogRateLimiter().burst
        XCTAssertLessThanOrEqual(written.count, burst + 2, written.joined(separator: "\n"))
        XCTAssertTrue(written.last?.contains("more such lines not written") == true, written.last ?? "")
    }
}

/// Log lines collected from another thread.
final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
