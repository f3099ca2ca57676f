import CNanomsg
import CNanomsgShim

/// A socket operation that failed, with nanomsg's own words for it.
public struct TransportError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Code: String, Sendable {
        /// The deadline passed before the operation could complete.
        case timedOut = "timed out"
        /// The socket was closed, by this process or by `close()` from another thread.
        case closed = "socket closed"
        /// The task waiting on the operation was cancelled.
        case cancelled = "cancelled"
        /// A bad address, a port in use, or another failure nanomsg reported.
        case failed = "failed"
        /// A socket in the wrong state for the operation (for example REQ sending twice).
        case wrongState = "wrong state"
    }

    public let code: Code
    /// What was being done: "bind tcp://127.0.0.1:5555", "receive", ...
    public let operation: String
    /// errno, where nanomsg set one.
    public let errno: Int32
    /// nn_strerror's text for errno, or a description.
    public let text: String

    public init(_ code: Code, operation: String, errno: Int32 = 0, text: String) {
        self.code = code
        self.operation = operation
        self.errno = errno
        self.text = text
    }

    /// The error nanomsg reports for the last call on this thread.
    static func last(_ operation: String) -> TransportError { from(nn_errno(), operation) }

    static func from(_ e: Int32, _ operation: String) -> TransportError {
        TransportError(code(for: e), operation: operation, errno: e, text: String(cString: nn_strerror(e)))
    }

    static func code(for e: Int32) -> Code {
        switch e {
        case rpp_nn_etimedout, rpp_nn_eagain: .timedOut
        case rpp_nn_ebadf, rpp_nn_eterm: .closed
        case rpp_nn_efsm: .wrongState
        default: .failed
        }
    }

    public var description: String { "\(operation): \(code.rawValue): \(text)" }
}
