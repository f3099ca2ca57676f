import Wire
import XCTest

// What `rpp cluster status` shows, decided without I/O: throughput over a sliding window, and the learner's
// merge of what members reported with its membership.
@testable import Roles

final class StatusBookTests: XCTestCase {
    func testRateMeterWindow() {
        var m = RateMeter(windowMillis: 10_000, startedAt: 0)
        XCTAssertEqual(m.perSecond(now: 0), 0)
        m.add(100, at: 1_000)
        XCTAssertEqual(m.perSecond(now: 2_000), 50, "100 samples over the 2 s since the start")
        m.add(100, at: 5_000)
        XCTAssertEqual(m.perSecond(now: 10_000), 20, "200 samples over a full 10 s window")
        XCTAssertEqual(m.perSecond(now: 12_000), 10, "the first 100 left the window")
        XCTAssertEqual(m.perSecond(now: 30_000), 0)
        XCTAssertEqual(m.total, 200)
        m.add(-5, at: 30_000)
        XCTAssertEqual(m.total, 200, "negative counts are ignored")
    }

    func testBookMergesReportsWithMembership() throws {
        var membership = try Membership(timeoutMillis: 1_000)
        var book = StatusBook()
        _ = membership.register(Register(workerID: "w1", role: .rollout, host: "node-b", pid: 42), now: 0)
        _ = membership.register(Register(workerID: "w2", role: .rollout, host: "node-c", pid: 43), now: 0)
        book.report(
            Status(
                workerID: "w1", role: .rollout, host: "node-b", pid: 42, policyVersion: 3, state: "generating",
                samplesPerSecond: 900, unitsDone: 12))
        _ = membership.heartbeat(
            Heartbeat(workerID: "w1", role: .rollout, sequence: 1, policyVersion: 4, unixMillis: 0), now: 600)
        let members = book.members(membership.views(now: 800))
        XCTAssertEqual(members.map(\.workerID), ["w1", "w2"])
        XCTAssertEqual(members[0].policyVersion, 4, "the newer of report and heartbeat")
        XCTAssertEqual(members[0].samplesPerSecond, 900)
        XCTAssertEqual(members[0].unitsDone, 12)
        XCTAssertEqual(members[0].silentMillis, 200)
        XCTAssertEqual(members[1].state, "registered", "no report yet")
        XCTAssertEqual(members[1].silentMillis, 800)
        // w2 goes silent past the timeout: it leaves the membership and the book.
        XCTAssertEqual(membership.sweep(now: 1_000).map(\.workerID), ["w2"])
        XCTAssertEqual(book.members(membership.views(now: 1_000)).map(\.workerID), ["w1"])
    }

    func testServerStatusResponder() throws {
        let responder = StatusResponder(role: .reward, id: "tcp://127.0.0.1:5610")
        let handler = responder.wrap { request in
            guard case .scoreRequest(let r) = request else { throw RemoteError(code: .badRequest, message: "no") }
            return .scoreReply(ScoreReply(id: r.id, rewards: r.items.map { _ in 1 }))
        }
        let item = ScoreItem(promptTokens: [1], responseTokens: [2], answer: "3")
        _ = try handler(.scoreRequest(ScoreRequest(id: 1, items: [item, item, item])))
        guard case .clusterStatus(let s) = try handler(.clusterStatus(ClusterStatus())) else { return XCTFail() }
        XCTAssertEqual(s.members.count, 1)
        XCTAssertEqual(s.members[0].role, .reward)
        XCTAssertEqual(s.members[0].workerID, "tcp://127.0.0.1:5610")
        XCTAssertEqual(s.members[0].unitsDone, 1, "one request answered")
        XCTAssertEqual(s.members[0].samplesPerSecond, 3, "three samples in the first second")
        XCTAssertThrowsError(
            try handler(
                .heartbeat(
                    Heartbeat(
                        workerID: "x", role: .rollout, sequence: 1, policyVersion: 0,
                        unixMillis: 0))))
    }
}
