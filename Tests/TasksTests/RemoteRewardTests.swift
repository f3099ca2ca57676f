// The remote reward against a real HTTP server on loopback: the OpenRLHF request and answer, retries, a
// stuck sample that times out alone while the others are scored, and answers that are wrong.
import Foundation
import TestKit
import XCTest

@testable import Tasks

final class RemoteRewardTests: XCTestCase {
    /// Rewards 1 when the query ends with its label, like a user's verifier behind the endpoint would.
    static func reward(_ body: [String: Any]) -> [Double] {
        let q = body["query"] as? [String] ?? []
        let l = body["labels"] as? [String] ?? []
        return zip(q, l).map { $0.hasSuffix($1) ? 1 : 0 }
    }

    static func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    func testScoresABatchInOneRequest() throws {
        let server = try TinyHTTPServer { body in
            XCTAssertEqual(body["prompts"] as? [String], ["1+1=", "2+2="])
            return .init(body: Self.json(["rewards": Self.reward(body), "extra_logs": ["x": 1]]))
        }
        defer { server.stop() }
        let client = try RemoteReward(url: server.url)
        let r = client.score(queries: ["1+1=2", "2+2=5"], prompts: ["1+1=", "2+2="], labels: ["2", "4"])
        XCTAssertEqual(r, RemoteRewards(rewards: [1, 0], failed: 0, lastError: nil))
        XCTAssertEqual(server.requests, 1)
    }

    func testRetriesAfterAServerError() throws {
        let calls = Counter()
        let server = try TinyHTTPServer { body in
            calls.next() == 0
                ? .init(status: 503, body: Data()) : .init(body: Self.json(["rewards": Self.reward(body)]))
        }
        defer { server.stop() }
        let client = try RemoteReward(url: server.url, policy: .init(timeout: 5, retries: 2, backoff: 0.01))
        let r = client.score(queries: ["a7"], prompts: ["a"], labels: ["7"])
        XCTAssertEqual(r.rewards, [1])
        XCTAssertEqual(r.failed, 0)
        XCTAssertEqual(server.requests, 2)
    }

    func testAStuckSampleTimesOutAloneAndGetsTheFallback() throws {
        let server = try TinyHTTPServer { body in
            let stuck = (body["query"] as? [String] ?? []).contains("stuck")
            return .init(body: Self.json(["rewards": Self.reward(body)]), delay: stuck ? 3 : 0)
        }
        defer { server.stop() }
        let client = try RemoteReward(
            url: server.url, policy: .init(timeout: 0.5, retries: 0, backoff: 0, fallback: -1))
        let start = Date()
        let r = client.score(queries: ["x1", "stuck", "y2"], prompts: ["x", "s", "y"], labels: ["1", "0", "3"])
        XCTAssertEqual(r.rewards, [1, -1, 0])
        XCTAssertEqual(r.failed, 1)
        XCTAssertNotNil(r.lastError)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.9, "the run waits for timeouts, not for the stuck sample")
    }

    func testASlowAnswerWithinTheTimeoutCounts() throws {
        let server = try TinyHTTPServer { body in .init(body: Self.json(["rewards": Self.reward(body)]), delay: 0.6) }
        defer { server.stop() }
        let client = try RemoteReward(url: server.url, policy: .init(timeout: 2.5, retries: 0))
        let start = Date()
        let r = client.score(queries: ["a1"], prompts: ["a"], labels: ["1"])
        XCTAssertEqual(r.rewards, [1], "\(String(describing: r.lastError))")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.55)
    }

    func testWrongAnswersAreFailuresNotCrashes() throws {
        for (bad, says) in [
            (Data("nope".utf8), "not a JSON object"), (Self.json(["scores": [1]]), "no \"rewards\" list"),
            (Self.json(["rewards": [1, 2]]), "2 rewards for 1 samples"),
            (Self.json(["rewards": ["high"]]), "finite numbers"),
        ] {
            let server = try TinyHTTPServer { _ in .init(body: bad) }
            let client = try RemoteReward(url: server.url, policy: .init(timeout: 2, retries: 1, backoff: 0))
            let r = client.score(queries: ["q"], prompts: ["p"], labels: ["l"])
            XCTAssertEqual(r.rewards, [0])
            XCTAssertEqual(r.failed, 1)
            XCTAssertTrue(r.lastError?.contains(says) ?? false, "\(String(describing: r.lastError))")
            XCTAssertEqual(server.requests, 2, "one retry")
            server.stop()
        }
    }

    func testUnreachableEndpointAndBadSettings() throws {
        let closed = try TinyHTTPServer { _ in .init(body: Data()) }
        let url = closed.url
        closed.stop()
        let client = try RemoteReward(url: url, policy: .init(timeout: 1, retries: 1, backoff: 0.01, fallback: 0.5))
        let r = client.score(queries: ["a", "b"], prompts: ["", ""], labels: ["", ""])
        XCTAssertEqual(r.rewards, [0.5, 0.5])
        XCTAssertEqual(r.failed, 2)
        XCTAssertThrowsError(try RemoteReward(url: "ftp://x/y")) {
            XCTAssertTrue("\($0)".contains("not an http(s) URL"))
        }
        XCTAssertThrowsError(try RemoteReward(url: "http://h/", policy: .init(timeout: 0)))
        XCTAssertEqual(RemoteRewardPolicy(backoff: 0.5).delay(beforeAttempt: 3), 2)
    }
}

/// A thread-safe call counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        n += 1
        return n - 1
    }
}
