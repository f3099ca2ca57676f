// A chat conversation kept turn by turn, and the commands of an interactive chat loop.
import Foundation

/// The messages of a chat so far (an optional system message, then user and assistant turns), rendered
/// whole through the chat template at every turn.
public struct Conversation: Sendable, Equatable {
    /// One message.
    public struct Message: Sendable, Equatable {
        public var role: String
        public var content: String

        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    /// The system message put first, or nil to leave it to the template (some templates add a default one).
    public var system: String?
    /// The user and assistant turns, oldest first.
    public private(set) var turns: [Message] = []

    public init(system: String? = nil) {
        self.system = system
    }

    /// Every message the template sees: the system message (when set), then the turns.
    public var messages: [Message] {
        (system.map { [Message(role: "system", content: $0)] } ?? []) + turns
    }

    /// Adds a user turn.
    public mutating func addUser(_ text: String) {
        turns.append(Message(role: "user", content: text))
    }

    /// Adds the assistant's reply.
    public mutating func addAssistant(_ text: String) {
        turns.append(Message(role: "assistant", content: text))
    }

    /// Drops the newest turn (a user turn that could not be answered).
    public mutating func dropLast() {
        if !turns.isEmpty { turns.removeLast() }
    }

    /// Forgets every turn; the system message stays.
    public mutating func reset() {
        turns = []
    }

    /// The request that renders the conversation; with `addGenerationPrompt` it ends where the assistant's
    /// next reply begins.
    public func request(addGenerationPrompt: Bool) -> ChatRequest {
        ChatRequest(messages: Self.value(messages), addGenerationPrompt: addGenerationPrompt)
    }

    /// Messages as the template's list of {"role", "content"} dicts.
    public static func value(_ messages: [Message]) -> Value {
        .list(
            messages.map { m in
                var d = OrderedDict()
                d.set("role", .string(m.role))
                d.set("content", .string(m.content))
                return .dict(d)
            })
    }
}

/// What one line typed into an interactive chat asks for.
public enum ChatInput: Sendable, Equatable {
    /// A user message.
    case message(String)
    /// `/reset`: forget the conversation.
    case reset
    /// `/exit` or `/quit`: leave.
    case exit
    /// `/help`: list the commands.
    case help
    /// A blank line: nothing to do.
    case empty

    /// Reads one line. Only the exact commands (surrounding spaces ignored) are commands; any other text,
    /// including text that starts with a slash, is a message.
    public init(line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        switch trimmed {
        case "": self = .empty
        case "/reset": self = .reset
        case "/exit", "/quit": self = .exit
        case "/help": self = .help
        default: self = .message(line)
        }
    }

    /// The help text for the commands.
    public static let commandsHelp = "/reset forgets the conversation, /exit (or end of input) leaves, /help shows this"
}
