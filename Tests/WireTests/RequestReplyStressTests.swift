// REQ sockets under the conditions of a loaded cluster: late and duplicate replies, timeouts, cancels, and closes
// while other threads receive. nanomsg's own REQ released a dropped reply twice when the socket was closed, which
// aborted the process (chunk.c NN_CHUNK_TAG assertion); these tests must end without a crash and with every reply
// matched to its own request.
import Foundation
import Synchronization
import TestKit
import XCTest

@testable import Wire

final class RequestReplyStressTests: XCTestCase {
    /// Answers every request it gets (each re-sent copy too) with the request's bytes, after `delay` for the first.
    func echoServer(_ rep: Socket, delay: Double, until stop: CancelFlag) -> Thread {
        let thread = Thread {
            var first = true
            while !stop.isCancelled {
                guard let request = try? rep.receive(timeout: .milliseconds(200), cancel: stop) else { continue }
                if first {
                    Thread.sleep(forTimeInterval: delay)
                    first = false
                }
                try? rep.send(request, timeout: .seconds(2), cancel: stop)
            }
        }
        thread.start()
        return thread
    }

    func testDuplicateRepliesThenCloseDoNotCrash() throws {
        let address = TestAddress.ipc()
        let rep = try Socket(.rep)
        try rep.bind(address)
        let stop = CancelFlag()
        let server = echoServer(rep, delay: 0.3, until: stop)
        defer {
            stop.cancel()
            rep.close()
            _ = server
        }
        let req = try Socket(.req)
        try req.setRequestResendInterval(milliseconds: 40)
        try req.connect(address)
        // Large enough that nanomsg keeps the reply in a heap chunk rather than inline.
        let request = [UInt8](repeating: 7, count: 65_536)
        try req.send(request, timeout: .seconds(5))
        let reply = try req.receive(timeout: .seconds(5))
        XCTAssertTrue(reply == request)
        // The server answers the copies re-sent while it slept: replies to a request already answered.
        Thread.sleep(forTimeInterval: 0.6)
        // Reuse freed memory the way a busy process does, so a second release of a dropped reply is caught.
        var held: [UnsafeMutableRawPointer] = []
        for size in stride(from: 65_000, to: 66_500, by: 16) {
            let p = malloc(size)!
            memset(p, 0, size)
            held.append(p)
        }
        req.close()
        for p in held { free(p) }
    }

    func testRepliesToEarlierRequestsAreDropped() throws {
        let address = TestAddress.inproc()
        let rep = try Socket(.rep)
        try rep.bind(address)
        let req = try Socket(.req)
        try req.connect(address)
        defer {
            req.close()
            rep.close()
        }
        try req.send(Array("first".utf8), timeout: .seconds(5))
        let first = try rep.receive(timeout: .seconds(5))
        XCTAssertThrowsError(try req.receive(timeout: .milliseconds(100))) {
            XCTAssertEqual(($0 as? TransportError)?.code, .timedOut)
        }
        // The caller gave up and asks again; the answer to the first request comes late and must not be taken.
        try req.send(Array("second".utf8), timeout: .seconds(5))
        try rep.send(first, timeout: .seconds(5))
        let second = try rep.receive(timeout: .seconds(5))
        try rep.send(second, timeout: .seconds(5))
        XCTAssertEqual(String(decoding: try req.receive(timeout: .seconds(5)), as: UTF8.self), "second")
        XCTAssertThrowsError(try req.receive(timeout: .milliseconds(50)), "nothing is pending any more") {
            XCTAssertEqual(($0 as? TransportError)?.code, .wrongState)
        }
    }

    func testManyClientsWithTimeoutsCancelsAndClosesWhileReceiving() throws {
        let address = TestAddress.tcp()
        let rep = try Socket(.rep)
        try rep.bind(address)
        let stop = CancelFlag()
        // A slow server: half the requests wait past their client's deadline.
        let server = Thread {
            var n = 0
            while !stop.isCancelled {
                guard let request = try? rep.receive(timeout: .milliseconds(100), cancel: stop) else { continue }
                n += 1
                if n % 2 == 0 { Thread.sleep(forTimeInterval: 0.015) }
                try? rep.send(request, timeout: .seconds(1), cancel: stop)
            }
        }
        server.start()
        defer {
            stop.cancel()
            rep.close()
        }
        let clients = TestThreads()
        let mismatches = Mutex(0)
        let answered = Mutex(0)
        clients.start(8, named: "client") { client in
            for round in 0..<6 {
                guard let req = try? Socket(.req) else { return }
                try? req.setRequestResendInterval(milliseconds: 5)
                try? req.connect(address)
                let cancel = CancelFlag()
                // Some rounds are cut short by a close or a cancel from another thread.
                if round % 3 == 1 {
                    DispatchQueue.global().asyncAfter(deadline: .now() + 0.02) { req.close() }
                } else if round % 3 == 2 {
                    DispatchQueue.global().asyncAfter(deadline: .now() + 0.02) { cancel.cancel() }
                }
                for i in 0..<10 {
                    let request = Array("\(client)-\(round)-\(i)".utf8) + [UInt8](repeating: 1, count: 200)
                    guard (try? req.send(request, timeout: .milliseconds(50), cancel: cancel)) != nil else { break }
                    if let reply = try? req.receive(timeout: .milliseconds(10), cancel: cancel) {
                        answered.withLock { $0 += 1 }
                        if reply != request { mismatches.withLock { $0 += 1 } }
                    }
                }
                req.close()
            }
        }
        XCTAssertTrue(clients.wait(seconds: 60), "clients still running: \(clients.stillRunning)")
        XCTAssertEqual(mismatches.withLock { $0 }, 0, "every reply answers its own request")
        XCTAssertGreaterThan(answered.withLock { $0 }, 0)
    }
}
