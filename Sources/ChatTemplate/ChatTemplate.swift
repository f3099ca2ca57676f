// A compiled chat template and the request it renders, as transformers' apply_chat_template passes it.
import Foundation

/// A chat template parsed once and rendered for many requests.
public struct ChatTemplate: Sendable {
    /// The Jinja source.
    public let source: String
    private let nodes: NodeList

    /// Parses `source`; a syntax error names the template line.
    public init(_ source: String) throws {
        self.source = source
        nodes = NodeList(try Parser.parse(source))
    }

    /// Renders with exactly these variables (plus the globals raise_exception, strftime_now, namespace,
    /// range and dict). `now` is the clock strftime_now reads.
    public func render(variables: [String: Value], now: @escaping () -> Date = Date.init) throws -> String {
        let interpreter = Interpreter(now: now)
        let root = Scope(parent: nil, interpreter.globals())
        for (k, v) in variables { root.variables[k] = v }
        return try interpreter.render(nodes.nodes, Scope(parent: root))
    }

    /// Renders one request the way apply_chat_template(..., tokenize=False) does.
    public func render(
        _ request: ChatRequest, specialTokens: [String: Value] = [:],
        now: @escaping () -> Date = Date.init
    ) throws -> String {
        // apply_chat_template fails on an empty conversation before rendering (it inspects messages[0]).
        if case .list(let list) = request.messages, list.isEmpty {
            throw RequestError("\"messages\" is empty: there is no conversation to render")
        }
        var variables = specialTokens
        for (k, v) in request.variables { variables[k] = v }
        var messages = request.messages
        let tag = "CONTINUE_FINAL_MESSAGE_TAG "
        var finalText: String? = nil
        if request.continueFinalMessage {
            (messages, finalText) = try ChatRequest.markFinalMessage(messages, tag: tag)
        }
        variables["messages"] = messages
        variables["tools"] = request.tools ?? Value.none
        variables["documents"] = request.documents ?? Value.none
        variables["add_generation_prompt"] = .bool(request.addGenerationPrompt)
        var text = try render(variables: variables, now: now)
        if let finalText {
            let mark = String(tag.dropLast())
            guard text.contains(pythonStrip(finalText, nil, left: true, right: true)),
                let range = text.range(of: mark, options: .backwards)
            else {
                throw TemplateError(
                    .runtime, line: 0,
                    "continue_final_message is set but the final message does not "
                        + "appear in the chat after applying the chat template")
            }
            if text[range.lowerBound...].hasPrefix(tag) {
                text = String(text[..<range.lowerBound])
            } else {
                text = pythonStrip(String(text[..<range.lowerBound]), nil, left: false, right: true)
            }
        }
        return text
    }
}

/// The parsed statements, boxed so a template can be shared between threads.
private final class NodeList: @unchecked Sendable {
    let nodes: [Node]
    init(_ nodes: [Node]) { self.nodes = nodes }
}

/// One request to render: the arguments of apply_chat_template.
public struct ChatRequest: Sendable {
    /// The conversation: a list of message dicts.
    public var messages: Value
    /// Tool schemas, or nil (the template then sees `tools` as none).
    public var tools: Value?
    /// Documents for retrieval templates, or nil.
    public var documents: Value?
    public var addGenerationPrompt: Bool
    /// Leave the final message open, as transformers' continue_final_message.
    public var continueFinalMessage: Bool
    /// Every other variable (date_string, enable_thinking, ...); they override special tokens.
    public var variables: [String: Value]

    public init(
        messages: Value, tools: Value? = nil, documents: Value? = nil, addGenerationPrompt: Bool = false,
        continueFinalMessage: Bool = false, variables: [String: Value] = [:]
    ) {
        self.messages = messages
        self.tools = tools
        self.documents = documents
        self.addGenerationPrompt = addGenerationPrompt
        self.continueFinalMessage = continueFinalMessage
        self.variables = variables
    }

    /// Reads a request object: `messages`, `tools`, `documents`, `add_generation_prompt`,
    /// `continue_final_message`; any other key is a template variable.
    public init(object: Value) throws {
        guard case .dict(let d) = object else { throw RequestError("expected a JSON object") }
        guard let messages = d["messages"] else { throw RequestError("missing \"messages\"") }
        guard case .list = messages else { throw RequestError("\"messages\" must be a list of message objects") }
        var variables: [String: Value] = [:]
        for (k, v) in d.items {
            guard case .string(let key) = k else { continue }
            if !["messages", "tools", "documents", "add_generation_prompt", "continue_final_message"].contains(key) {
                variables[key] = v
            }
        }
        func optional(_ key: String) -> Value? {
            if let v = d[key], case .none = v { return nil }
            return d[key]
        }
        self.init(
            messages: messages, tools: optional("tools"), documents: optional("documents"),
            addGenerationPrompt: d["add_generation_prompt"]?.isTruthy ?? false,
            continueFinalMessage: d["continue_final_message"]?.isTruthy ?? false, variables: variables)
        if continueFinalMessage && addGenerationPrompt {
            throw RequestError("continue_final_message and add_generation_prompt are not compatible")
        }
    }

    /// The messages with `tag` appended to the text of the final message, and that text.
    static func markFinalMessage(_ messages: Value, tag: String) throws -> (Value, String) {
        guard case .list(var list) = messages, case .dict(var last)? = list.last, let content = last["content"] else {
            throw RequestError("continue_final_message is set but there is no final message with content")
        }
        switch content {
        case .string(let s):
            last.set("content", .string(s + tag))
            list[list.count - 1] = .dict(last)
            return (.list(list), s)
        case .list(var blocks):
            for i in blocks.indices.reversed() {
                if case .dict(var block) = blocks[i], case .string(let t)? = block["text"] {
                    block.set("text", .string(t + tag))
                    blocks[i] = .dict(block)
                    last.set("content", .list(blocks))
                    list[list.count - 1] = .dict(last)
                    return (.list(list), t)
                }
            }
            throw RequestError(
                "continue_final_message is set but we could not find any text to continue in the final message")
        default:
            throw RequestError("continue_final_message is set but the final message's content is not text")
        }
    }
}

/// A request that cannot be rendered as written.
public struct RequestError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ChatTemplate {
    /// A JSON string literal as Python's json.dumps(s, ensure_ascii=False) writes it.
    public static func jsonString(_ s: String) -> String { ChatTemplateJSON.string(s) }
}

enum ChatTemplateJSON {
    static func string(_ s: String) -> String { jsonString(s, ascii: false) }
}
