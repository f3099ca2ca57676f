import Wire
import XCTest

// Membership: registration, heartbeats, timeouts, per-role counts, and lost workers' units going back to
// the ledger.
@testable import Roles

final class MembershipTests: XCTestCase {
    func reg(_ id: String, _ role: Role = .rollout) -> Register {
        Register(workerID: id, role: role, host: "h", pid: 1)
    }
    func beat(_ id: String, _ seq: UInt64, _ role: Role = .rollout, version: UInt64 = 0) -> Heartbeat {
        Heartbeat(workerID: id, role: role, sequence: seq, policyVersion: version, unixMillis: 0)
    }

    func testRegisterHeartbeatAndTimeout() throws {
        var m = try Membership(timeoutMillis: 1000)
        XCTAssertEqual(m.register(reg("a"), now: 0), .joined)
        XCTAssertEqual(m.register(reg("r", .reward), now: 0), .joined)
        XCTAssertEqual(m.heartbeat(beat("a", 1, version: 4), now: 900), .alive)
        XCTAssertEqual(m.policyVersion(of: "a"), 4)
        XCTAssertEqual(m.sweep(now: 999), [])
        let dead = m.sweep(now: 1000)
        XCTAssertEqual(dead, [Membership.Departure(workerID: "r", role: .reward, lastSeen: 0)])
        XCTAssertEqual(m.sweep(now: 1000), [], "declared dead once")
        XCTAssertTrue(m.isAlive("a"))
        XCTAssertFalse(m.isAlive("r"))
        XCTAssertEqual(m.sweep(now: 1899), [])
        XCTAssertEqual(m.sweep(now: 1900).map(\.workerID), ["a"])
    }

    func testHeartbeatVerdicts() throws {
        var m = try Membership(timeoutMillis: 100)
        XCTAssertEqual(m.heartbeat(beat("x", 1), now: 0), .unknown)
        _ = m.register(reg("a"), now: 0)
        XCTAssertEqual(m.heartbeat(beat("a", 5), now: 10), .alive)
        XCTAssertEqual(m.heartbeat(beat("a", 5), now: 90), .outOfOrder)
        XCTAssertEqual(m.heartbeat(beat("a", 4), now: 90), .outOfOrder)
        XCTAssertEqual(m.sweep(now: 110).map(\.workerID), ["a"], "out-of-order beats do not extend the deadline")
        XCTAssertEqual(m.heartbeat(beat("a", 6), now: 120), .unknown, "a dead worker must register again")
        XCTAssertEqual(m.register(reg("a"), now: 130), .joined)
        XCTAssertEqual(m.heartbeat(beat("a", 1), now: 131), .alive, "sequence restarts with a registration")
        XCTAssertEqual(m.heartbeat(beat("a", 2, .reward), now: 132), .roleMismatch)
        XCTAssertEqual(m.register(reg("a"), now: 140), .rejoined)
        XCTAssertEqual(m.register(reg(""), now: 140), .refused("worker id is empty"))
        XCTAssertThrowsError(try Membership(timeoutMillis: 0))
    }

    func testAliveCountsPerRoleAndLeave() throws {
        var m = try Membership(timeoutMillis: 100)
        for (id, role) in [("r1", Role.rollout), ("r2", .rollout), ("rw", .reward), ("ref", .reference)] {
            _ = m.register(reg(id, role), now: 0)
        }
        XCTAssertEqual(m.aliveCounts, [.learner: 0, .rollout: 2, .reward: 1, .reference: 1])
        XCTAssertEqual(m.alive(.rollout), ["r1", "r2"])
        XCTAssertTrue(m.leave("r2"))
        XCTAssertFalse(m.leave("r2"))
        XCTAssertEqual(m.aliveCount(.rollout), 1)
    }

    func testDeadWorkersUnitsGoBackToTheLedger() throws {
        var m = try Membership(timeoutMillis: 500)
        var ledger = try makeLedger(prompts: 8, unitSize: 4)
        _ = m.register(reg("a"), now: 0)
        _ = m.register(reg("b"), now: 0)
        let ua = try XCTUnwrap(ledger.nextUnit(for: "a", now: 0))
        _ = try XCTUnwrap(ledger.nextUnit(for: "b", now: 0))
        _ = m.heartbeat(beat("b", 1), now: 400)
        for d in m.sweep(now: 600) where d.role == .rollout { XCTAssertEqual(ledger.workerLost(d.workerID), [ua.id]) }
        XCTAssertEqual(ledger.nextUnit(for: "b", now: 600)?.id, ua.id)
        XCTAssertEqual(ledger.counters.reissued, 1)
    }
}
