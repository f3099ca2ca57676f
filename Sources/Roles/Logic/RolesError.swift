// Typed errors of the roles' decision logic: one code per kind of problem and a one-line message that
// says what was wrong.

/// An input the decision logic refused (a malformed batch, a chunk that does not fit, a bad setting).
public struct RolesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: String, Sendable, CaseIterable {
        /// A setting is out of range (unit size, lease, chunk size...).
        case invalidConfig
        /// An experience batch fails validation (sample count, lengths, missing ref log-probs...).
        case invalidBatch
        /// A weight announcement or chunk is malformed or does not fit its announcement.
        case invalidWeights
        /// Weight bytes do not match the checksum their announcement gives.
        case checksumMismatch
        /// Arrays whose shapes do not agree with the rollout batch.
        case shapeMismatch
        /// The rollout workers failed the same way on too many work units in a row.
        case workersFailed
    }

    /// The kind of problem.
    public let code: Code
    /// One line: what was wrong.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
