// The one error type of chat templates: syntax, rendering, or raise_exception, with the template line.

/// Errors of lexing, parsing and rendering; the message names the template line.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The template source is not valid Jinja.
        case syntax
        /// An operation failed while rendering (undefined value, wrong type, unknown method...).
        case runtime
        /// The template called `raise_exception(message)`.
        case raised
    }
    public let kind: Kind
    public let line: Int
    public let message: String

    public init(_ kind: Kind, line: Int, _ message: String) {
        self.kind = kind
        self.line = line
        self.message = message
    }

    public var description: String { "chat template line \(line): \(message)" }
}
