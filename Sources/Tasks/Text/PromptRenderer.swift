// From an example's input to the prompt text the model sees: as is, or through the model's chat template
// (`data.apply_chat_template`, with an optional system prompt), as transformers' apply_chat_template(...,
// add_generation_prompt=True, tokenize=False) renders it.
import ChatTemplate
import Foundation

/// Renders example inputs to prompt text.
public struct PromptRenderer: Sendable {
    /// The chat template, or nil to use text prompts as they are.
    public let template: ChatTemplate?
    /// The tokenizer config's special tokens (bos_token, eos_token, ...) the template may read.
    public let specialTokens: [String: Value]
    /// A system message put first, unless the example's messages start with one.
    public let system: String?

    public init(template: ChatTemplate?, specialTokens: [String: Value] = [:], system: String? = nil) {
        self.template = template
        self.specialTokens = specialTokens
        self.system = system
    }

    /// The prompt text of `example`.
    public func render(_ example: Example) throws -> String {
        guard let template else {
            guard case .text(let text) = example.input else {
                throw DatasetError(
                    "\(example.id): the input is a list of chat messages; set data.apply_chat_template: true")
            }
            return text
        }
        var messages: [Value]
        switch example.input {
        case .text(let text): messages = [Self.message("user", text)]
        case .messages(let list): messages = list
        }
        if let system, !Self.startsWithSystem(messages) { messages.insert(Self.message("system", system), at: 0) }
        do {
            return try template.render(
                ChatRequest(messages: .list(messages), addGenerationPrompt: true),
                specialTokens: specialTokens)
        } catch {
            throw DatasetError("\(example.id): the chat template failed: \(error)")
        }
    }

    static func message(_ role: String, _ content: String) -> Value {
        var d = OrderedDict()
        d.set("role", .string(role))
        d.set("content", .string(content))
        return .dict(d)
    }

    static func startsWithSystem(_ messages: [Value]) -> Bool {
        guard case .dict(let d)? = messages.first, case .string(let role)? = d["role"] else { return false }
        return role == "system"
    }
}
