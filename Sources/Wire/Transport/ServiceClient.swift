// The client side of the reward and reference servers: one REQ socket connected to every server of a
// kind. nanomsg spreads requests over the connected servers and, when one dies, re-sends an unanswered
// request to another after `resendInterval` (the REQ socket itself drops replies to earlier requests); the
// client adds a deadline and turns Error replies into thrown `RemoteError`s.
import Foundation

/// A failed call to a service.
public struct ServiceError: Error, CustomStringConvertible, Sendable {
    public let service: String
    public let message: String
    public var description: String { "\(service): \(message)" }
}

/// Calls one kind of service (reward or reference) spread over several servers.
public final class ServiceClient: @unchecked Sendable {
    public let service: String
    private let socket: FrameSocket
    private let lock = NSLock()

    /// Connects to every address; servers may come and go.
    public init(
        service: String, addresses: [String], codec: FrameCodec,
        resendInterval: Duration = .seconds(2)
    ) throws {
        guard !addresses.isEmpty else {
            throw ServiceError(service: service, message: "no server address given")
        }
        self.service = service
        socket = try FrameSocket(.req, codec: codec)
        let ms =
            resendInterval.components.seconds * 1000 + resendInterval.components.attoseconds / 1_000_000_000_000_000
        try socket.socket.setRequestResendInterval(milliseconds: Int32(clamping: max(ms, 10)))
        for address in addresses { try socket.connect(address) }
    }

    /// Sends `request` and returns the reply; one call at a time per client (REQ semantics). Setting
    /// `cancel` ends the wait early (with a cancelled TransportError).
    public func call(_ request: WireMessage, timeout: Duration, cancel: CancelFlag? = nil) throws -> WireMessage {
        lock.lock()
        defer { lock.unlock() }
        let start = ContinuousClock.now
        do {
            try socket.sendSync(request, timeout: timeout, cancel: cancel)
            let left = timeout - (ContinuousClock.now - start)
            guard left > .zero else {
                throw TransportError(.timedOut, operation: "wait for reply", text: "deadline passed")
            }
            let reply = try socket.receiveSync(timeout: left, cancel: cancel)
            if case .error(let e) = reply { throw e }
            return reply
        } catch let error as TransportError where error.code == .timedOut {
            throw ServiceError(
                service: service,
                message: "no reply within \(timeout): is a \(service) server running "
                    + "and reachable? (\(error))")
        }
    }

    public func close() { socket.close() }
}
