// REQ on a raw socket: this type numbers requests, re-sends an unanswered one and drops replies to any other.
//
// nanomsg's own REQ keeps the reply it is matching in the socket; when it drops a reply (a late answer to an
// earlier request, or a second answer to a re-sent one) it releases that message but keeps pointing at it, and
// closing the socket then releases it again, which aborts the process inside nanomsg (chunk.c's NN_CHUNK_TAG
// assertion) or corrupts its heap. A raw REQ socket hands every reply to the caller, so nothing is held inside.
import CNanomsg
import CNanomsgShim
import Foundation

/// The request a REQ socket waits to have answered.
struct RequestState {
    /// Request ids start at a random number, as nanomsg's do, so a restarted client does not take answers meant
    /// for its previous run; the top bit marks the end of the backtrace.
    var lastID = UInt32.random(in: 0...UInt32.max)
    /// The id and the message of the request awaiting its reply.
    var pending: (id: UInt32, message: [UInt8])?
    var resendMillis: Int32 = 60_000
}

extension Socket {
    /// Numbers a new request (replacing any unanswered one) and keeps it for re-sending: its id (top bit set,
    /// sent as the SP header) and its bytes.
    func newRequest(_ parts: [UnsafeRawBufferPointer]) -> (UInt32, [UInt8]) {
        var message: [UInt8] = []
        message.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { message.append(contentsOf: part) }
        return withRequest { r in
            r.lastID &+= 1
            let id = r.lastID | 0x8000_0000
            r.pending = (id, message)
            return (id, message)
        }
    }

    /// Receives the reply to the pending request, re-sending the request every resend interval; replies to other
    /// requests are dropped.
    func receiveReply<R>(
        timeout: Duration?, cancel: CancelFlag?,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let operation = "receive on req socket"
        let deadline = timeout.map { ContinuousClock.now + $0 }
        guard let first = withRequest({ $0.pending.map { ($0.id, $0.message) } }) else {
            throw TransportError(.wrongState, operation: operation, text: "no request is waiting for a reply")
        }
        var resendAt = ContinuousClock.now + .milliseconds(withRequest { $0.resendMillis })
        while true {
            try enter("receive", cancel)
            var buffer: UnsafeMutableRawPointer?
            var id: UInt32 = 0
            let rc = withUnsafeMutablePointer(to: &buffer) { rpp_nn_recv_with_request_id(fd, $0, &id, 0) }
            let e = rc < 0 ? nn_errno() : 0
            leave()
            if rc >= 0, let buffer {
                defer { nn_freemsg(buffer) }
                let mine = withRequest { r -> Bool in
                    guard let p = r.pending, p.id == id, id == first.0 else { return false }
                    r.pending = nil
                    return true
                }
                guard mine else { continue }
                return try body(UnsafeRawBufferPointer(start: buffer, count: Int(rc)))
            }
            guard e == rpp_nn_etimedout || e == rpp_nn_eagain || e == rpp_nn_eintr else {
                throw closedOr(.from(e, operation))
            }
            let now = ContinuousClock.now
            if let deadline, now >= deadline {
                throw TransportError(.timedOut, operation: operation, errno: e, text: "no message within \(timeout!)")
            }
            if now >= resendAt {
                resendAt = now + .milliseconds(withRequest { $0.resendMillis })
                // A peer may be gone: the re-send goes to whichever is connected, and waits one poll slice at most.
                try? first.1.withUnsafeBytes { m in
                    try sendParts([m], requestID: first.0, timeout: .milliseconds(1), cancel: cancel)
                }
            }
        }
    }
}
