import Wire
import XCTest

@testable import Roles

/// The broadcast's flow control, decided without I/O: the clock is given in seconds.
final class BroadcastWindowTests: XCTestCase {
    /// The receipt of a worker that has just taken chunk `index` (-1: the announcement).
    func receipt(_ id: UInt64, version: UInt64, index: Int) -> WeightProgress {
        WeightProgress(workerID: "w\(id)", receiverID: id, policyVersion: version, next: index + 1)
    }

    func testTheFirstWindowOfChunksGoesWithoutWaiting() {
        XCTAssertNil(BroadcastWindow.needs(position: 0, of: [0, 1, 2, 3], window: 2))
        XCTAssertNil(BroadcastWindow.needs(position: 1, of: [0, 1, 2, 3], window: 2))
        XCTAssertEqual(BroadcastWindow.needs(position: 2, of: [0, 1, 2, 3], window: 2), 0)
        XCTAssertEqual(BroadcastWindow.needs(position: 3, of: [0, 1, 2, 3], window: 2), 1)
        // A repair sends some chunks: the window counts chunks sent, and names the chunk the worker must have taken.
        XCTAssertEqual(BroadcastWindow.needs(position: 2, of: [3, 8, 20], window: 1), 8)
    }

    func testASendWaitsForEveryWorkerThatSentAReceiptOfIt() {
        var w = BroadcastWindow()
        w.begin(version: 5, now: 0)
        XCTAssertTrue(w.admit(needs: 3, now: 0).go, "no worker heard from yet: nothing to wait for")
        w.record(receipt(1, version: 5, index: 2), now: 0.01)
        w.record(receipt(2, version: 5, index: 4), now: 0.01)
        XCTAssertFalse(w.admit(needs: 3, now: 0.02).go, "worker 1 has taken chunk 2 only")
        XCTAssertTrue(w.admit(needs: 2, now: 0.02).go)
        w.record(receipt(1, version: 5, index: 3), now: 0.03)
        XCTAssertEqual(w.admit(needs: 3, now: 0.03).go, true)
        XCTAssertEqual(w.heardInSend, 2)
    }

    func testTheNextSendWaitsForTheWorkersHeardInTheLastOneFromItsFirstWindowOn() {
        var w = BroadcastWindow()
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: 9), now: 0.1)
        w.begin(version: 2, now: 5)
        XCTAssertEqual(w.waited, [1])
        XCTAssertEqual(w.heardInSend, 0)
        XCTAssertFalse(w.admit(needs: 0, now: 5.01).go, "a receipt of version 1 says nothing about version 2")
        w.record(receipt(1, version: 2, index: -1), now: 5.015)
        XCTAssertFalse(w.admit(needs: 0, now: 5.015).go, "the announcement taken, chunk 0 not yet")
        w.record(receipt(1, version: 2, index: 0), now: 5.02)
        XCTAssertTrue(w.admit(needs: 0, now: 5.02).go)
    }

    func testAReceiptOfAnotherVersionDoesNotCountButShowsTheWorkerIsAlive() {
        var w = BroadcastWindow(stallSeconds: 0.25)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: 0), now: 0)
        w.begin(version: 2, now: 1)
        w.record(receipt(1, version: 1, index: 7), now: 1.2)  // late, from the last send
        let a = w.admit(needs: 0, now: 1.3)
        XCTAssertFalse(a.go)
        XCTAssertEqual(a.stalled, [], "heard 0.1 s ago: not stalled")
    }

    func testAWorkerSilentForTheStallIsNoLongerWaitedForInThatSendNorInTheNext() {
        var w = BroadcastWindow(stallSeconds: 0.25)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: 0), now: 0)
        w.record(receipt(2, version: 1, index: 0), now: 0)
        w.begin(version: 2, now: 10)
        w.record(receipt(1, version: 2, index: 5), now: 10.1)
        XCTAssertEqual(w.admit(needs: 5, now: 10.2).go, false, "worker 2 may only be slow")
        // Silence is counted from the send's start, not from the last receipt seconds ago.
        let a = w.admit(needs: 5, now: 10.26)
        XCTAssertTrue(a.go)
        XCTAssertEqual(a.stalled.map(\.workerID), ["w2"])
        XCTAssertEqual(a.stalled.first?.policyVersion, 1, "what was last heard from it")
        XCTAssertEqual(w.admit(needs: 5, now: 10.3).stalled, [], "named once")
        w.begin(version: 3, now: 20)
        XCTAssertEqual(w.waited, [1], "the next send waits only for the workers heard in the last one")
    }

    func testAWorkerThatStalledAndComesBackIsWaitedForAgain() {
        var w = BroadcastWindow(stallSeconds: 0.25)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: 0), now: 0)
        XCTAssertEqual(w.admit(needs: 3, now: 0.3).stalled.map(\.workerID), ["w1"])
        w.record(receipt(1, version: 1, index: 1), now: 0.4)
        XCTAssertFalse(w.admit(needs: 3, now: 0.4).go)
    }

    func testTheOldestWorkersAreForgottenBeyondTheCap() {
        var w = BroadcastWindow(maxPeers: 2)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: 0), now: 0.1)
        w.record(receipt(2, version: 1, index: 0), now: 0.2)
        w.record(receipt(3, version: 1, index: 0), now: 0.3)
        XCTAssertEqual(Set(w.peers.keys), [2, 3])
        XCTAssertEqual(w.waited, [2, 3])
    }

    func testTheFirstChunkWaitsForAsManyReceiptsOfTheAnnouncementAsPeersConnected() {
        var w = BroadcastWindow(stallSeconds: 0.25)
        w.begin(version: 1, now: 0)
        XCTAssertTrue(w.admitFirst(connections: 0, now: 0).go, "nobody connected")
        XCTAssertFalse(w.admitFirst(connections: 2, now: 0.01).go, "two connected, none heard from")
        w.record(receipt(1, version: 1, index: -1), now: 0.02)
        XCTAssertFalse(w.admitFirst(connections: 2, now: 0.02).go, "one of two")
        w.record(receipt(2, version: 1, index: -1), now: 0.03)
        XCTAssertEqual(w.admitFirst(connections: 2, now: 0.03).go, true)
        XCTAssertEqual(w.settledConnections, 2)
        XCTAssertEqual(w.waited, [1, 2], "from the first chunk on, the window waits for both")
        w.begin(version: 2, now: 1)
        XCTAssertTrue(w.admitFirst(connections: 2, now: 1).go, "the same peers: only the window waits for them")
    }

    func testAPeerThatJoinsIsWaitedForAndOneThatLeftMakesRoomForAnother() {
        var w = BroadcastWindow(stallSeconds: 0.25)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: -1), now: 0)
        XCTAssertTrue(w.admitFirst(connections: 1, now: 0).go)
        w.begin(version: 2, now: 1)
        XCTAssertFalse(w.admitFirst(connections: 2, now: 1).go, "a second peer connected")
        w.record(receipt(1, version: 2, index: -1), now: 1.01)
        XCTAssertFalse(w.admitFirst(connections: 2, now: 1.01).go, "only the known one heard from")
        w.record(receipt(2, version: 2, index: -1), now: 1.02)
        XCTAssertTrue(w.admitFirst(connections: 2, now: 1.02).go)
        w.begin(version: 3, now: 2)
        XCTAssertTrue(w.admitFirst(connections: 1, now: 2).go, "one left")
        w.begin(version: 4, now: 3)
        w.record(receipt(1, version: 4, index: -1), now: 3)
        XCTAssertFalse(w.admitFirst(connections: 2, now: 3).go, "another took its place")
    }

    func testAPeerThatConnectsAndSendsNothingHoldsBackOneSendInAQuietSpell() {
        var w = BroadcastWindow(stallSeconds: 0.25, newcomerQuietSeconds: 60)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: -1), now: 0.01)
        XCTAssertFalse(w.admitFirst(connections: 2, now: 0.2).go)
        let a = w.admitFirst(connections: 2, now: 0.26)
        XCTAssertTrue(a.go, "silence is counted from the send's start")
        XCTAssertEqual(a.silent, 1)
        w.begin(version: 2, now: 1)
        XCTAssertEqual(w.admitFirst(connections: 2, now: 1).silent, 0, "not waited for again while it stays")
        // It connects again: one connection fewer, then one more.
        w.begin(version: 3, now: 2)
        XCTAssertTrue(w.admitFirst(connections: 1, now: 2).go)
        w.begin(version: 4, now: 3)
        XCTAssertTrue(w.admitFirst(connections: 2, now: 3).go, "within the quiet spell: not waited for")
        w.begin(version: 5, now: 70)
        XCTAssertTrue(w.admitFirst(connections: 1, now: 70).go)
        w.begin(version: 6, now: 80)
        XCTAssertFalse(w.admitFirst(connections: 2, now: 80).go, "after it, a new connection is waited for again")
    }

    func testAWorkerNotHeardFromOnceEveryConnectedPeerHasBeenHasLeftAndIsNotWaitedFor() {
        var w = BroadcastWindow(stallSeconds: 0.25)
        w.begin(version: 1, now: 0)
        w.record(receipt(1, version: 1, index: 0), now: 0)
        w.record(receipt(2, version: 1, index: 0), now: 0)
        w.begin(version: 2, now: 1)
        XCTAssertFalse(w.admit(needs: 0, connections: 1, now: 1.01).go, "neither heard from yet")
        w.record(receipt(1, version: 2, index: 0), now: 1.02)
        XCTAssertFalse(w.admit(needs: 0, connections: 2, now: 1.02).go, "two connected: worker 2 may only be slow")
        let a = w.admit(needs: 0, connections: 1, now: 1.03)
        XCTAssertTrue(a.go, "one connected and one heard from: worker 2 has left")
        XCTAssertEqual(a.left.map(\.workerID), ["w2"])
        XCTAssertEqual(a.stalled, [])
        XCTAssertEqual(w.waited, [1])
        XCTAssertEqual(w.admit(needs: 0, connections: 1, now: 1.04).left, [], "named once")
    }
}
