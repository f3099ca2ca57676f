// Chunks lost on the way: a worker names the ones it lacks once its stream has ended, the learner sends just
// those again, and the learner's control thread turns a work request that names them into that repair.
import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

final class WeightRepairTests: XCTestCase {
    func params(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
    }

    func testAWorkerNamesTheChunksItLacksOnceTheLastHasComeOrTheStreamWentQuiet() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let bus = try FrameSocket(.bus, codec: FrameCodec())
        try bus.bind(address)
        defer { bus.close() }
        let receiver = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: { _ in })
        receiver.start()
        defer { receiver.close() }
        Thread.sleep(forTimeInterval: 0.2)
        let pub = try WeightPublisher.publish(version: 3, parameters: params(5000, seed: 1), chunkElements: 1000)
        // Chunks 1 and 3 are lost; the last one (4) comes.
        try bus.sendSync(.weightAnnouncement(pub.announcement), timeout: .seconds(5))
        for i in [0, 2] { try bus.sendSync(.weightChunk(pub.chunk(i)), timeout: .seconds(5)) }
        XCTAssertTrue(eventually { receiver.secondsSinceLastFrame < 5 })
        XCTAssertNil(receiver.missingChunks(quietFor: 30), "chunks may still be coming")
        try bus.sendSync(.weightChunk(pub.chunk(4)), timeout: .seconds(5))
        XCTAssertTrue(eventually { receiver.missingChunks(quietFor: 30) != nil }, "the last chunk came")
        let named = receiver.missingChunks(quietFor: 30)
        XCTAssertEqual(named?.version, 3)
        XCTAssertEqual(named?.chunks, [1, 3])
        XCTAssertEqual(receiver.chunksToAskFor()?.chunks, [1, 3], "what the next work request names")
        XCTAssertNil(receiver.chunksToAskFor(), "not named again before the learner could answer")
        Thread.sleep(forTimeInterval: 0.35)
        XCTAssertEqual(receiver.chunksToAskFor()?.chunks, [1, 3], "named again once the answer is overdue")
        // A repair's announcement starts a new stream whose end is unknown: after it, only quiet counts.
        try bus.sendSync(.weightAnnouncement(pub.announcement), timeout: .seconds(5))
        try bus.sendSync(.weightChunk(pub.chunk(1)), timeout: .seconds(5))
        XCTAssertTrue(eventually { receiver.missingChunks(quietFor: 0.05)?.chunks == [3] })
        try bus.sendSync(.weightChunk(pub.chunk(3)), timeout: .seconds(5))
        XCTAssertTrue(eventually { receiver.latestVersion == 3 })
        XCTAssertNil(receiver.missingChunks(quietFor: 0), "nothing in progress")
    }

    func testTheBroadcasterSendsOnlyTheNamedChunksOfTheLatestVersion() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let broadcaster = try WeightBroadcaster(address: address, codec: FrameCodec(), delta: true, log: { _ in })
        defer { broadcaster.close() }
        let p1 = params(6000, seed: 2)
        try broadcaster.publish(version: 1, parameters: p1, chunkElements: 1000)
        let p2 = p1.map { $0 * 1.01 }
        let v2 = try broadcaster.publish(version: 2, parameters: p2, chunkElements: 1000)
        XCTAssertTrue(v2.announcement.isDelta)
        let listener = try FrameSocket(.bus, codec: FrameCodec())
        try listener.connect(address)
        defer { listener.close() }
        Thread.sleep(forTimeInterval: 0.3)
        broadcaster.resend(version: 1, chunks: [0])  // no longer the latest: nothing goes out
        broadcaster.resend(version: 2, chunks: [5, 2, 99])  // 99 is no chunk of it
        guard case .weightAnnouncement(let a) = try listener.receiveSync(timeout: .seconds(10)) else {
            return XCTFail("expected the announcement first")
        }
        XCTAssertGreaterThan(a.receiptEvery, 0, "the broadcaster asks for receipts")
        var sent = a
        sent.receiptEvery = 0
        XCTAssertEqual(sent, v2.full.announcement, "a repair is a full copy, whatever the version went out as")
        var got: [WeightChunk] = []
        for _ in 0..<2 {
            guard case .weightChunk(let c) = try listener.receiveSync(timeout: .seconds(10)) else {
                return XCTFail("expected a chunk")
            }
            got.append(c)
        }
        XCTAssertEqual(got, [v2.full.chunk(2), v2.full.chunk(5)])
        XCTAssertThrowsError(try listener.receiveSync(timeout: .milliseconds(300)), "nothing more")
    }

    func testAWorkRequestNamingMissingChunksOfTheLatestVersionGetsARepairNotTheWholeVersion() throws {
        let hub = try LearnerHub(
            membershipTimeoutMillis: 60_000, leaseMillis: 1000, weightsAddress: "inproc://weights", log: { _ in })
        let full = LockedList<Int>()
        let repairs = LockedList<String>()
        hub.republish = { full.append(1) }
        hub.resend = { v, chunks in repairs.append("\(v): \(chunks)") }
        _ = try hub.handle(.register(Register(workerID: "w", role: .rollout, host: "h", pid: 7)))
        XCTAssertEqual(full.items.count, 1, "a worker that joins gets the latest version")
        hub.setPolicyVersion(3)
        let asks = [
            WorkRequest(workerID: "w", policyVersion: 2, partialVersion: 3, missingChunks: [4, 9]),
            WorkRequest(workerID: "w", policyVersion: 0, partialVersion: 3, missingChunks: [1]),
            WorkRequest(workerID: "w", policyVersion: 1, partialVersion: 2, missingChunks: [1]),
        ]
        for ask in asks { XCTAssertThrowsError(try hub.handle(.workRequest(ask)), "no unit while behind") }
        XCTAssertEqual(repairs.items, ["3: [4, 9]", "3: [1]"], "an older partial version is not repaired")
        XCTAssertEqual(full.items.count, 1, "no whole re-send for a worker that named its missing chunks")
        // A worker without any version asks for chunks only: never a unit, though units are there to take.
        hub.setPolicyVersion(0)
        let ledger = try makeLedger(prompts: 4, unitSize: 4)
        hub.begin(try IterationCollector(ledger: ledger, assembler: makeAssembler(promptIDs: ledger.promptIDsInOrder)))
        let first = WorkRequest(
            workerID: "w", policyVersion: 0, partialVersion: 0, missingChunks: [2], repairOnly: true)
        XCTAssertThrowsError(try hub.handle(.workRequest(first)), "no unit for a repair-only request")
        XCTAssertEqual(repairs.items.last, "0: [2]")
        guard case .workUnit = try hub.handle(.workRequest(WorkRequest(workerID: "w", policyVersion: 0))) else {
            return XCTFail("the same worker asking for work gets a unit")
        }
    }
}
