import Wire
import XCTest

// WorkLedger: unit cutting, leases, first-delivery-wins, expiry, lost workers, regeneration, counters.
@testable import Roles

final class WorkLedgerTests: XCTestCase {
    func testCutsPromptsIntoUnitsInOrder() throws {
        var l = try makeLedger(prompts: 10, unitSize: 4)
        XCTAssertEqual(l.pendingCount, 3)
        let u = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        XCTAssertEqual(u.id, 1)
        XCTAssertEqual(u.prompts.map(\.id), [100, 101, 102, 103])
        XCTAssertEqual(u.iteration, 7)
        XCTAssertEqual(u.samplesPerPrompt, 2)
        XCTAssertEqual(u.minPolicyVersion, 3)
        XCTAssertEqual(u.leaseMillis, 1000)
        XCTAssertEqual(l.nextUnit(for: "b", now: 0)?.prompts.count, 4)
        XCTAssertEqual(l.nextUnit(for: "c", now: 0)?.prompts.map(\.id), [108, 109])
        XCTAssertNil(l.nextUnit(for: "d", now: 0))
        XCTAssertEqual(l.counters.issued, 3)
        XCTAssertEqual(l.leasedCount, 3)
        XCTAssertEqual(l.nextUnitID, 4)
    }

    func testRejectsBadSettingsAndDuplicatePrompts() {
        XCTAssertThrowsError(try makeLedger(unitSize: 0))
        XCTAssertThrowsError(try makeLedger(n: 0))
        XCTAssertThrowsError(try makeLedger(lease: 0))
        let p = makePrompts(2)
        XCTAssertThrowsError(
            try WorkLedger(iteration: 0, prompts: p + p, unitSize: 1, samplesPerPrompt: 1, leaseMillis: 5)
        ) { e in
            XCTAssertEqual((e as? RolesError)?.code, .invalidConfig)
        }
    }

    func testFirstDeliveryWinsThenDuplicate() throws {
        var l = try makeLedger(prompts: 4, unitSize: 4)
        let u = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        XCTAssertEqual(l.complete(unitID: u.id, from: "a", now: 5), .accepted(promptIDs: [100, 101, 102, 103]))
        XCTAssertTrue(l.isFinished)
        XCTAssertEqual(l.complete(unitID: u.id, from: "a", now: 6), .duplicate)
        XCTAssertEqual(l.counters.duplicatesDropped, 1)
        XCTAssertEqual(l.counters.completed, 1)
    }

    func testUnknownStaleAndNotHolder() throws {
        var l = try makeLedger(prompts: 4, unitSize: 2, firstUnitID: 50)
        let u = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        XCTAssertEqual(l.complete(unitID: 49, from: "a", now: 1), .stale)
        XCTAssertEqual(l.complete(unitID: 999, from: "a", now: 1), .unknown)
        XCTAssertEqual(l.complete(unitID: u.id, from: "intruder", now: 1), .notHolder)
        XCTAssertEqual(l.complete(unitID: 51, from: "a", now: 1), .notHolder, "pending unit never leased to a")
        XCTAssertEqual(l.counters.completed, 0)
    }

    func testExpiryRequeuesAtFrontAndCountsReissue() throws {
        var l = try makeLedger(prompts: 8, unitSize: 4, lease: 100)
        let u1 = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        XCTAssertEqual(l.expire(now: 99), [])
        XCTAssertEqual(l.expire(now: 100), [u1.id])
        XCTAssertEqual(l.counters.expired, 1)
        let again = try XCTUnwrap(l.nextUnit(for: "b", now: 100))
        XCTAssertEqual(again.id, u1.id, "expired unit goes back to the front under the same id")
        XCTAssertEqual(l.counters.issued, 2)
        XCTAssertEqual(l.counters.reissued, 1)
        // The late original delivery is accepted; the re-issued worker's becomes a duplicate.
        XCTAssertEqual(l.complete(unitID: u1.id, from: "a", now: 150), .accepted(promptIDs: u1.prompts.map(\.id)))
        XCTAssertEqual(l.complete(unitID: u1.id, from: "b", now: 160), .duplicate)
        XCTAssertEqual(l.expire(now: 10_000), [], "a completed unit never expires")
    }

    func testLateDeliveryWhileQueuedRemovesItFromQueue() throws {
        var l = try makeLedger(prompts: 4, unitSize: 4, lease: 10)
        let u = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        _ = l.expire(now: 10)
        XCTAssertEqual(l.pendingCount, 1)
        XCTAssertEqual(l.complete(unitID: u.id, from: "a", now: 11), .accepted(promptIDs: u.prompts.map(\.id)))
        XCTAssertEqual(l.pendingCount, 0)
        XCTAssertNil(l.nextUnit(for: "b", now: 12))
    }

    func testWorkerLostRequeuesOnlyItsUnits() throws {
        var l = try makeLedger(prompts: 12, unitSize: 4)
        let a1 = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        let b1 = try XCTUnwrap(l.nextUnit(for: "b", now: 0))
        let a2 = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        XCTAssertEqual(l.workerLost("a"), [a1.id, a2.id])
        XCTAssertEqual(l.workerLost("a"), [])
        XCTAssertEqual(l.leasedCount, 1)
        XCTAssertEqual(l.nextUnit(for: "c", now: 1)?.id, a1.id)
        XCTAssertEqual(l.nextUnit(for: "c", now: 1)?.id, a2.id)
        XCTAssertEqual(l.counters.reissued, 2)
        XCTAssertEqual(l.complete(unitID: b1.id, from: "b", now: 2), .accepted(promptIDs: b1.prompts.map(\.id)))
    }

    func testRegenerateMakesNewUnitsAtTheFront() throws {
        var l = try makeLedger(prompts: 8, unitSize: 2)
        let u = try XCTUnwrap(l.nextUnit(for: "a", now: 0))
        _ = l.complete(unitID: u.id, from: "a", now: 1)
        let new = l.regenerate(promptIDs: [100, 101, 100_000])
        XCTAssertEqual(new, [5])
        XCTAssertEqual(l.counters.regeneratedPrompts, 2, "unknown prompt ids are ignored")
        XCTAssertFalse(l.isFinished)
        let r = try XCTUnwrap(l.nextUnit(for: "b", now: 2))
        XCTAssertEqual(r.id, 5)
        XCTAssertEqual(r.prompts.map(\.id), [100, 101])
        XCTAssertEqual(l.counters.reissued, 0, "a regeneration unit is a first issue")
    }

    func testFinishedAfterEveryUnitCompletes() throws {
        var l = try makeLedger(prompts: 5, unitSize: 2)
        var ids: [UInt64] = []
        while let u = l.nextUnit(for: "a", now: 0) { ids.append(u.id) }
        XCTAssertEqual(ids.count, 3)
        for id in ids {
            XCTAssertFalse(l.isFinished)
            _ = l.complete(unitID: id, from: "a", now: 1)
        }
        XCTAssertTrue(l.isFinished)
        XCTAssertEqual(l.openCount, 0)
    }
}
