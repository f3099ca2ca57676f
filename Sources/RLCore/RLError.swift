// Errors of the RL core: a configuration that cannot work, or arrays whose shapes do not agree.

/// A configuration value that is out of range or inconsistent with another one.
///
/// `field` is the snake_case name of the setting (as in config files and `rpp inspect advantages`),
/// `message` says what is wrong and what to change.
public struct RLConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// snake_case name of the offending setting, e.g. `train_batch_size`.
    public let field: String
    /// What is wrong and what to change.
    public let message: String

    /// Creates an error for `field` with a message that says what to change.
    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    /// `field: message`, one line.
    public var description: String { "\(field): \(message)" }
}

/// Input arrays whose lengths do not match the declared B×T shape, or a missing required array.
public struct RLInputError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Name of the offending array or argument, e.g. `mask` or `values`.
    public let field: String
    /// What is wrong.
    public let message: String

    /// Creates an error for the array `field`.
    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    /// `field: message`, one line.
    public var description: String { "\(field): \(message)" }
}
