import Foundation
import Synchronization
import TestKit
import Wire
import XCTest

@testable import Roles

/// A client re-sends a request it has waited for a while; a reward or reference server busy with a long request
/// answers the copies from that request's answer instead of doing the work again.
final class ServiceResendTests: XCTestCase {
    func serve(resentKinds: Set<MessageKind>, calls: Int) throws -> (handled: Int, stats: ServerStats) {
        let address = TestAddress.inproc()
        let handled = Mutex(0)
        let server = try RequestServer(
            name: "reward", address: address, codec: FrameCodec(), resentKinds: resentKinds,
            handler: { request in
                handled.withLock { $0 += 1 }
                Thread.sleep(forTimeInterval: 0.4)  // a long reference forward, say
                return try RewardService(name: "length", score: { Float($0.responseTokens.count) }).handle(request)
            })
        server.start()
        defer { server.stop() }
        let client = try ServiceClient(
            service: "reward", addresses: [address], codec: FrameCodec(), resendInterval: .milliseconds(100))
        defer { client.close() }
        for id in 0..<calls {
            let request = ScoreRequest(id: UInt64(id), items: [ScoreItem(promptTokens: [1], responseTokens: [2, 3])])
            guard case .scoreReply(let r) = try client.call(.scoreRequest(request), timeout: .seconds(30)) else {
                XCTFail("no score reply")
                continue
            }
            XCTAssertEqual(r.rewards, [2])
        }
        return (handled.withLock { $0 }, server.stats)
    }

    func testCopiesOfALongRequestAreAnsweredWithoutTheWork() throws {
        let (handled, stats) = try serve(resentKinds: [.scoreRequest], calls: 3)
        XCTAssertEqual(handled, 3, "each request handled once")
        XCTAssertGreaterThan(stats.resent, 0, "the client re-sent while the server worked")
        XCTAssertEqual(stats.requests, 3)
    }

    func testOtherKindsAreHandledEveryTime() throws {
        let (handled, _) = try serve(resentKinds: [], calls: 2)
        XCTAssertGreaterThan(handled, 2, "without the kind, every copy is handled (the learner's control requests)")
    }
}
