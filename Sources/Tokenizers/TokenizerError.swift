import Foundation

/// An error while loading or running a tokenizer: says what was wrong and, where it helps, what to do.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in a sentence a user can act on.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
