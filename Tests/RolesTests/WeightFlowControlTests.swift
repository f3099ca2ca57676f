// The broadcast's flow control over real sockets: workers send a receipt for every chunk they take, and the
// learner sends on only while every worker it hears from is within its window.
import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

final class WeightFlowControlTests: XCTestCase {
    func params(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
    }

    func waitFor(_ version: UInt64, _ receivers: [WeightReceiver]) -> Bool {
        let deadline = Date(timeIntervalSinceNow: 20)
        while receivers.contains(where: { $0.latestVersion != version }) {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    /// Waits (10 s at most) until `broadcaster`'s socket has `count` peers connected.
    func waitForConnections(_ broadcaster: WeightBroadcaster, _ count: Int) {
        let deadline = Date(timeIntervalSinceNow: 10)
        while broadcaster.socket.socket.connections != count, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    /// Publishes on a thread of its own; the semaphore is signalled when the send has ended.
    func publishInBackground(_ broadcaster: WeightBroadcaster, version: UInt64, parameters: [Float])
        -> DispatchSemaphore
    {
        let sent = DispatchSemaphore(value: 0)
        Thread {
            _ = try? broadcaster.publish(version: version, parameters: parameters, chunkElements: 1000)
            sent.signal()
        }.start()
        return sent
    }

    func testWorkersReceiptsComeBackAndEveryVersionArrivesWithinAWindowOfTwoChunks() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        // Chunks of 1000 float32 values: a window of 8000 bytes lets two go ahead of the slowest receipt.
        let broadcaster = try WeightBroadcaster(
            address: address, codec: FrameCodec(), windowBytes: 8000, log: { _ in })
        defer { broadcaster.close() }
        let receivers = try (0..<2).map { k in
            try WeightReceiver(address: address, codec: FrameCodec(), name: "worker-\(k)", log: { _ in })
        }
        for r in receivers { r.start() }
        defer { for r in receivers { r.close() } }
        Thread.sleep(forTimeInterval: 0.3)
        var p = params(20_000, seed: 3)
        for v in UInt64(1)...3 {
            if v > 1 { p = p.map { $0 * 1.001 } }
            try broadcaster.publish(version: v, parameters: p, chunkElements: 1000)
            XCTAssertTrue(waitFor(v, receivers), "version \(v) reaches both workers")
            XCTAssertEqual(receivers[0].latest?.parameters, p)
            XCTAssertEqual(receivers[1].latest?.parameters, p)
        }
        // From the second version on the send waits for both workers: it began knowing them.
        let stats = try XCTUnwrap(broadcaster.lastBroadcast)
        XCTAssertEqual(stats.version, 3)
        XCTAssertEqual(stats.receivers, 2, "both workers sent receipts")
    }

    func testAWorkerSendsAReceiptAfterEveryNChunksTheAnnouncementAsksFor() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let learner = try FrameSocket(.bus, codec: FrameCodec())
        try learner.bind(address)
        defer { learner.close() }
        let worker = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker-7", log: { _ in })
        worker.start()
        defer { worker.close() }
        Thread.sleep(forTimeInterval: 0.2)
        let pub = try WeightPublisher.publish(version: 2, parameters: params(7000, seed: 6), chunkElements: 1000)
        var announcement = pub.announcement
        announcement.receiptEvery = 3
        try learner.sendSync(.weightAnnouncement(announcement), timeout: .seconds(5))
        for i in 0..<7 { try learner.sendSync(.weightChunk(pub.chunk(i)), timeout: .seconds(5)) }
        var receipts: [WeightProgress] = []
        for _ in 0..<3 {
            guard case .weightProgress(let p) = try learner.receiveSync(timeout: .seconds(10)) else {
                return XCTFail("expected a receipt")
            }
            receipts.append(p)
        }
        XCTAssertEqual(receipts.map(\.next), [0, 3, 6], "the announcement, then after the third and the sixth chunk")
        XCTAssertEqual(receipts.map(\.policyVersion), [2, 2, 2])
        XCTAssertEqual(Set(receipts.map(\.workerID)), ["worker-7"])
        XCTAssertEqual(Set(receipts.map(\.receiverID)).count, 1)
        XCTAssertThrowsError(try learner.receiveSync(timeout: .milliseconds(300)), "none for the seventh")
        XCTAssertEqual(worker.latestVersion, 2)
    }

    func testAWorkerThatFallsSilentIsWaitedForOnceThenTheBroadcastGoesOn() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let lines = LockedList<String>()
        let broadcaster = try WeightBroadcaster(
            address: address, codec: FrameCodec(), windowBytes: 8000, receiptStallSeconds: 0.25,
            log: { lines.append($0) })
        defer { broadcaster.close() }
        let worker = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: { _ in })
        worker.start()
        defer { worker.close() }
        // A peer that sends one receipt of version 1, then never takes anything: a worker that hung.
        let hung = try FrameSocket(.bus, codec: FrameCodec())
        try hung.connect(address)
        defer { hung.close() }
        Thread.sleep(forTimeInterval: 0.3)
        try broadcaster.publish(version: 1, parameters: params(16_000, seed: 4), chunkElements: 1000)
        XCTAssertTrue(waitFor(1, [worker]))
        try hung.sendSync(
            .weightProgress(WeightProgress(workerID: "hung", receiverID: 77, policyVersion: 1, next: 16)),
            timeout: .seconds(5))
        Thread.sleep(forTimeInterval: 0.2)
        let p2 = params(16_000, seed: 5)
        try broadcaster.publish(version: 2, parameters: p2, chunkElements: 1000)
        XCTAssertTrue(waitFor(2, [worker]))
        XCTAssertEqual(worker.latest?.parameters, p2)
        let waited = try XCTUnwrap(broadcaster.lastBroadcast?.waitSeconds)
        // The stall counts from the send's start, a little before the wait begins.
        XCTAssertGreaterThanOrEqual(waited, 0.2, "the send waited for the hung peer's stall")
        XCTAssertLessThan(waited, 5)
        XCTAssertEqual(lines.items.filter { $0.contains("hung sent no weight receipt") }.count, 1, "\(lines.items)")
        // The next version does not wait for it again.
        try broadcaster.publish(version: 3, parameters: p2.map { $0 * 2 }, chunkElements: 1000)
        XCTAssertTrue(waitFor(3, [worker]))
        XCTAssertEqual(lines.items.filter { $0.contains("hung sent no weight receipt") }.count, 1, "not named again")
        XCTAssertEqual(broadcaster.lastBroadcast?.receivers, 1, "only the live worker was heard")
    }

    func testTheFirstChunkWaitsUntilAPeerThatJustConnectedHasTakenTheAnnouncement() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let broadcaster = try WeightBroadcaster(
            address: address, codec: FrameCodec(), windowBytes: 8000, receiptStallSeconds: 5, log: { _ in })
        defer { broadcaster.close() }
        // A worker the learner has never heard from, played by hand.
        let peer = try FrameSocket(.bus, codec: FrameCodec())
        try peer.connect(address)
        defer { peer.close() }
        waitForConnections(broadcaster, 1)
        let sent = publishInBackground(broadcaster, version: 1, parameters: params(4000, seed: 8))
        guard case .weightAnnouncement(let a) = try peer.receiveSync(timeout: .seconds(10)) else {
            return XCTFail("expected the announcement")
        }
        XCTAssertEqual(a.chunkCount, 4)
        XCTAssertThrowsError(
            try peer.receiveSync(timeout: .milliseconds(300)), "no chunk before its receipt of the announcement")
        func receipt(_ next: Int) throws {
            try peer.sendSync(
                .weightProgress(WeightProgress(workerID: "by-hand", receiverID: 5, policyVersion: 1, next: next)),
                timeout: .seconds(5))
        }
        try receipt(0)
        for i in 0..<4 {
            guard case .weightChunk(let c) = try peer.receiveSync(timeout: .seconds(10)) else {
                return XCTFail("expected chunk \(i)")
            }
            XCTAssertEqual(c.index, i)
            try receipt(i + 1)
        }
        XCTAssertEqual(sent.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(broadcaster.lastBroadcast?.receivers, 1)
    }

    func testAPeerThatConnectsAndSendsNothingIsWaitedForOnceAndNamedOnce() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let lines = LockedList<String>()
        let broadcaster = try WeightBroadcaster(
            address: address, codec: FrameCodec(), windowBytes: 8000, receiptStallSeconds: 0.25,
            log: { lines.append($0) })
        defer { broadcaster.close() }
        let worker = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: { _ in })
        worker.start()
        defer { worker.close() }
        let silent = try FrameSocket(.bus, codec: FrameCodec())
        try silent.connect(address)
        defer { silent.close() }
        waitForConnections(broadcaster, 2)
        let p = params(16_000, seed: 9)
        try broadcaster.publish(version: 1, parameters: p, chunkElements: 1000)
        XCTAssertTrue(waitFor(1, [worker]))
        XCTAssertEqual(worker.latest?.parameters, p)
        XCTAssertGreaterThanOrEqual(
            try XCTUnwrap(broadcaster.lastBroadcast?.waitSeconds), 0.2, "the first chunk waited for the stall")
        let named = { lines.items.filter { $0.contains("connected to the weights socket sent no receipt") } }
        XCTAssertEqual(named().count, 1, "\(lines.items)")
        XCTAssertTrue(named().first?.contains("1 of 2 peers") == true, "\(named())")
        try broadcaster.publish(version: 2, parameters: p.map { $0 * 2 }, chunkElements: 1000)
        XCTAssertTrue(waitFor(2, [worker]))
        XCTAssertEqual(named().count, 1, "not waited for, nor named, again")
    }

    func testAWorkerThatLeftIsNotWaitedForOnceEveryConnectedOneHasTakenTheAnnouncement() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let lines = LockedList<String>()
        let broadcaster = try WeightBroadcaster(
            address: address, codec: FrameCodec(), windowBytes: 8000, receiptStallSeconds: 30,
            log: { lines.append($0) })
        defer { broadcaster.close() }
        let staying = try WeightReceiver(address: address, codec: FrameCodec(), name: "staying", log: { _ in })
        let leaving = try WeightReceiver(address: address, codec: FrameCodec(), name: "leaving", log: { _ in })
        for r in [staying, leaving] { r.start() }
        defer { staying.close() }
        waitForConnections(broadcaster, 2)
        let p = params(16_000, seed: 10)
        try broadcaster.publish(version: 1, parameters: p, chunkElements: 1000)
        XCTAssertTrue(waitFor(1, [staying, leaving]))
        XCTAssertEqual(broadcaster.lastBroadcast?.receivers, 2)
        leaving.close()
        waitForConnections(broadcaster, 1)
        // With a 30 s stall, a send that waited for the worker that left would not end within waitFor's 20 s.
        let sent = publishInBackground(broadcaster, version: 2, parameters: p.map { $0 * 2 })
        XCTAssertTrue(waitFor(2, [staying]))
        XCTAssertEqual(sent.wait(timeout: .now() + 20), .success, "the send ended without the stall")
        XCTAssertEqual(lines.items.filter { $0.contains("leaving is no longer connected") }.count, 1, "\(lines.items)")
        XCTAssertEqual(lines.items.filter { $0.contains("sent no weight receipt") }, [])
    }
}
