import Foundation
import Wire
import XCTest

// What the learner's control thread writes to the log: the answers the protocol expects (no work yet; an
// unknown worker told to register again) are typed refusals that reach the worker but not the log, whatever
// their wording; re-registrations of workers waiting for weights are logged at a bounded rate.
@testable import Roles

final class LearnerHubLogTests: XCTestCase {
    func makeHub(_ lines: LockedList<String>) throws -> LearnerHub {
        try LearnerHub(
            membershipTimeoutMillis: 60_000, leaseMillis: 1000, weightsAddress: "inproc://weights",
            log: { lines.append($0) })
    }

    func register(_ id: String) -> WireMessage { .register(Register(workerID: id, role: .rollout, host: "h", pid: 7)) }

    func refusal(_ body: () throws -> WireMessage) -> RoutineRefusal? {
        do {
            _ = try body()
            return nil
        } catch { return error as? RoutineRefusal }
    }

    func testRoutineAnswersAreTypedRefusals() throws {
        let lines = LockedList<String>()
        let hub = try makeHub(lines)
        let unknown = refusal { try hub.handle(.workRequest(WorkRequest(workerID: "w", policyVersion: 0))) }
        XCTAssertEqual(unknown?.remote.code, .notFound)
        _ = try hub.handle(register("w"))
        let idle = refusal { try hub.handle(.workRequest(WorkRequest(workerID: "w", policyVersion: 0))) }
        XCTAssertEqual(idle?.remote.code, .overloaded, "no iteration under way: no work")
        let ahead = refusal { try hub.handle(.workRequest(WorkRequest(workerID: "w", policyVersion: 9))) }
        XCTAssertEqual(ahead?.remote.code, .notFound, "a worker ahead of the learner registers again")
        let beat = Heartbeat(workerID: "x", role: .rollout, sequence: 1, policyVersion: 0, unixMillis: 0)
        XCTAssertEqual(refusal { try hub.handle(.heartbeat(beat)) }?.remote.code, .notFound)
        XCTAssertEqual(lines.items, ["learner: rollout worker w (pid 7) joined"])
    }

    /// Over a real socket: a routine refusal reaches the peer as its error and is not logged; any other error is.
    func testRequestServerLogsErrorsButNotRoutineRefusals() throws {
        let lines = LockedList<String>()
        let address = "inproc://hub-log-\(UUID().uuidString)"
        let server = try RequestServer(
            name: "control", address: address, codec: FrameCodec(),
            handler: { message in
                if case .workRequest(let w) = message, w.workerID == "idle" {
                    throw RoutineRefusal(RemoteError(code: .overloaded, message: "come back later"))
                }
                throw RemoteError(code: .badRequest, message: "cannot do that")
            },
            log: { lines.append($0) })
        server.start()
        defer { server.stop() }
        let client = try ServiceClient(service: "control", addresses: [address], codec: FrameCodec())
        for (id, code) in [("idle", RemoteError.Code.overloaded), ("other", .badRequest)] {
            XCTAssertThrowsError(
                try client.call(.workRequest(WorkRequest(workerID: id, policyVersion: 0)), timeout: .seconds(10))
            ) { error in XCTAssertEqual((error as? RemoteError)?.code, code) }
        }
        XCTAssertEqual(lines.items.count, 1)
        XCTAssertTrue(lines.items[0].contains("cannot do that"), "\(lines.items)")
        XCTAssertEqual(server.stats.errors, 2)
    }

    func testRejoinedLinesAreRateLimited() throws {
        let lines = LockedList<String>()
        let hub = try makeHub(lines)
        for _ in 0..<30 { _ = try hub.handle(register("w")) }
        let rejoined = lines.items.filter { $0.contains("rejoined") }
        XCTAssertEqual(lines.items.first, "learner: rollout worker w (pid 7) joined")
        XCTAssertEqual(rejoined.count, 4, "\(lines.items)")
        XCTAssertTrue(rejoined.last!.contains("further lines like this are counted"), rejoined.last!)
        hub.flushLogs()
        XCTAssertTrue(
            lines.items.last!.hasPrefix("learner: worker re-registrations: 25 more such lines not written in the last"),
            lines.items.last!)
        _ = try hub.handle(register("v"))
        XCTAssertEqual(lines.items.last, "learner: rollout worker v (pid 7) joined", "joins are always written")
    }
}
