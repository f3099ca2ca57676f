import Foundation
import TestKit
import XCTest

@testable import Wire

final class TransportTests: XCTestCase {
    func pushPull(_ address: String) async throws {
        let pull = try FrameSocket(.pull)
        try pull.bind(address)
        let push = try FrameSocket(.push)
        try push.connect(address)
        for message in Examples.all {
            try await push.send(message, timeout: .seconds(5))
            let got = try await pull.receive(timeout: .seconds(5))
            XCTAssertEqual(got, message, "over \(address)")
        }
        push.close()
        pull.close()
    }

    func testPushPullInproc() async throws { try await pushPull(TestAddress.inproc()) }
    func testPushPullIpc() async throws { try await pushPull(TestAddress.ipc()) }
    func testPushPullTcp() async throws { try await pushPull(TestAddress.tcp()) }

    func testRequestReplyOverTcp() async throws {
        let address = TestAddress.tcp()
        let rep = try FrameSocket(.rep)
        try rep.bind(address)
        let req = try FrameSocket(.req)
        try req.connect(address)
        let server = Task {
            for _ in 0..<3 {
                guard case .scoreRequest(let r) = try await rep.receive(timeout: .seconds(5)) else {
                    XCTFail("expected a score request")
                    return
                }
                try await rep.send(
                    .scoreReply(ScoreReply(id: r.id, rewards: r.items.map { Float($0.answer.count) })),
                    timeout: .seconds(5))
            }
        }
        for id in UInt64(1)...3 {
            let reply = try await req.request(
                .scoreRequest(
                    ScoreRequest(
                        id: id,
                        items: [
                            ScoreItem(
                                promptTokens: [1], responseTokens: [2], answer: String(repeating: "x", count: Int(id)))
                        ])),
                timeout: .seconds(5))
            XCTAssertEqual(reply, .scoreReply(ScoreReply(id: id, rewards: [Float(id)])))
        }
        try await server.value
    }

    func testPublishSubscribe() async throws {
        let address = TestAddress.ipc()
        let pub = try FrameSocket(.pub)
        try pub.bind(address)
        let subs = try (0..<2).map { _ in try FrameSocket(.sub) }
        for s in subs { try s.connect(address) }
        // PUB drops messages until subscribers are connected: publish until each sees one.
        let announcement = Examples.all[12]
        for sub in subs {
            var seen = false
            for _ in 0..<100 where !seen {
                try await pub.send(announcement, timeout: .seconds(1))
                if let m = try? await sub.receive(timeout: .milliseconds(50)) {
                    XCTAssertEqual(m, announcement)
                    seen = true
                }
            }
            XCTAssertTrue(seen, "subscriber never received the broadcast")
        }
    }

    func testSurveyorRespondent() async throws {
        let address = TestAddress.tcp()
        let surveyor = try FrameSocket(.surveyor)
        try surveyor.socket.setSurveyDeadline(milliseconds: 500)
        try surveyor.bind(address)
        let respondents = try (0..<3).map { _ in try FrameSocket(.respondent) }
        for r in respondents { try r.connect(address) }
        let answering = respondents.enumerated().map { i, r in
            Task {
                while !Task.isCancelled {
                    guard (try? await r.receive(timeout: .seconds(10))) != nil else { continue }
                    try? await r.send(
                        .heartbeat(
                            Heartbeat(
                                workerID: "w\(i)", role: .rollout, sequence: 1,
                                policyVersion: 0, unixMillis: 0)), timeout: .seconds(1))
                }
            }
        }
        defer { for source in answering { source.cancel() } }
        // Survey until all three have connected and answered one survey.
        var best = Set<String>()
        for _ in 0..<20 where best.count < 3 {
            try await surveyor.send(
                .workRequest(WorkRequest(workerID: "learner", policyVersion: 0)), timeout: .seconds(1))
            var round = Set<String>()
            while true {
                do {
                    if case .heartbeat(let h) = try await surveyor.receive(timeout: .seconds(2)) {
                        round.insert(h.workerID)
                    }
                } catch let e as TransportError {
                    // The survey deadline ends the round (nanomsg reports it as a timeout or wrong state).
                    XCTAssertTrue([.timedOut, .wrongState].contains(e.code), "\(e)")
                    break
                }
            }
            if round.count > best.count { best = round }
        }
        XCTAssertEqual(best, ["w0", "w1", "w2"])
    }

    func testReceiveTimesOut() async throws {
        let pull = try FrameSocket(.pull)
        try pull.bind(TestAddress.inproc())
        let start = ContinuousClock.now
        do {
            _ = try await pull.receive(timeout: .milliseconds(120))
            XCTFail("nothing was sent")
        } catch let e as TransportError {
            XCTAssertEqual(e.code, .timedOut)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
    }

    func testSendWithoutPeerTimesOut() async throws {
        let push = try FrameSocket(.push)
        try push.connect(TestAddress.tcp())  // nobody listens there
        do {
            try await push.send(Examples.all[0], timeout: .milliseconds(150))
            XCTFail("no peer")
        } catch let e as TransportError {
            XCTAssertEqual(e.code, .timedOut)
        }
    }

    func testCancellationEndsABlockedReceive() async throws {
        let pull = try FrameSocket(.pull)
        try pull.bind(TestAddress.inproc())
        let waiting = Task { try await pull.receive() }
        try await Task.sleep(for: .milliseconds(100))
        let start = ContinuousClock.now
        waiting.cancel()
        do {
            _ = try await waiting.value
            XCTFail("cancelled")
        } catch let e as TransportError {
            XCTAssertEqual(e.code, .cancelled)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
    }

    func testCloseFromAnotherThreadEndsABlockedReceive() async throws {
        let pull = try FrameSocket(.pull)
        try pull.bind(TestAddress.inproc())
        let waiting = Task { try await pull.receive() }
        try await Task.sleep(for: .milliseconds(100))
        pull.socket.close()
        do {
            _ = try await waiting.value
            XCTFail("closed")
        } catch let e as TransportError {
            XCTAssertEqual(e.code, .closed)
        }
        XCTAssertThrowsError(try pull.socket.send([1])) { XCTAssertEqual(($0 as? TransportError)?.code, .closed) }
    }

    func testBadFrameOnTheWireIsAnErrorAndTheSocketStaysUsable() async throws {
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull)
        try pull.bind(address)
        let raw = try Socket(.push)
        try raw.connect(address)
        try raw.send(Array("not a frame at all, just bytes".utf8), timeout: .seconds(2))
        do {
            _ = try await pull.receive(timeout: .seconds(2))
            XCTFail("garbage decoded")
        } catch let e as FrameError {
            XCTAssertEqual(e.code, .badMagic)
        }
        try raw.send(FrameCodec().encode(Examples.all[3]), timeout: .seconds(2))
        let good = try await pull.receive(timeout: .seconds(2))
        XCTAssertEqual(good, Examples.all[3])
        raw.close()
    }

    func testKeyedSocketsRefuseUnsignedFrames() async throws {
        let address = TestAddress.inproc()
        let key = try ClusterKey(bytes: Array(repeating: 9, count: 32))
        let pull = try FrameSocket(.pull, codec: FrameCodec(key: key))
        try pull.bind(address)
        let intruder = try FrameSocket(.push)
        try intruder.connect(address)
        try await intruder.send(Examples.all[11], timeout: .seconds(2))
        do {
            _ = try await pull.receive(timeout: .seconds(2))
            XCTFail("unsigned batch accepted")
        } catch let e as FrameError {
            XCTAssertEqual(e.code, .missingMAC)
        }
        let friend = try FrameSocket(.push, codec: FrameCodec(key: key))
        try friend.connect(address)
        try await friend.send(Examples.all[11], timeout: .seconds(2))
        let got = try await pull.receive(timeout: .seconds(2))
        XCTAssertEqual(got, Examples.all[11])
    }

    func testEmptyAndGatheredRawMessages() throws {
        let address = TestAddress.inproc()
        let pull = try Socket(.pull)
        try pull.bind(address)
        let push = try Socket(.push)
        try push.connect(address)
        try push.send([UInt8](), timeout: .seconds(2))
        XCTAssertEqual(try pull.receive(timeout: .seconds(2)), [])
        let sealed = FrameCodec().seal(Examples.all[6])
        try push.send(sealed, timeout: .seconds(2))
        XCTAssertEqual(try pull.receive(timeout: .seconds(2)), sealed.bytes)
    }

    func testNanomsgErrorsCarryItsText() throws {
        let a = try Socket(.pull)
        let address = TestAddress.tcp()
        try a.bind(address)
        let b = try Socket(.pull)
        XCTAssertThrowsError(try b.bind(address)) { error in
            let e = error as! TransportError
            XCTAssertEqual(e.code, .failed)
            XCTAssertTrue(e.text.contains("in use"), e.text)
            XCTAssertTrue(e.description.contains(address), e.description)
        }
        XCTAssertThrowsError(try b.connect("tcp://no-port-here")) { error in
            XCTAssertTrue("\(error)".contains("Invalid argument"), "\(error)")
        }
        XCTAssertThrowsError(try b.bind("carrier-pigeon://x")) { error in
            XCTAssertTrue("\(error)".contains("not supported"), "\(error)")
        }
    }

    func testLargeMessageOverTcp() async throws {
        let address = TestAddress.tcp()
        let pull = try FrameSocket(.pull)
        try pull.bind(address)
        let push = try FrameSocket(.push)
        try push.connect(address)
        let values = (0..<(4 << 20)).map { Float(sin(Double($0) * 1e-3)) }  // 16 MiB of floats
        let chunk = WireMessage.weightChunk(
            WeightChunk(
                policyVersion: 2, index: 0, count: 1, offset: 0,
                data: DenseTensor(floats: values)))
        try await push.send(chunk, timeout: .seconds(20))
        let got = try await pull.receive(timeout: .seconds(20))
        XCTAssertEqual(got, chunk)
    }
}
