// The text side of a model directory, as tasks and rewards need it: its tokenizer (a Hugging Face tokenizer.json,
// or the arithmetic toy's characters, ids 0-15, for a checkpoint that has none), its chat template and special
// tokens, and the ids that end a response (generation_config.json's EOS ids and the template's end of turn).
import ChatTemplate
import Foundation
import Tokenizers

/// A model directory's tokenizer, chat template and stop tokens.
public struct ModelText: Sendable {
    /// The tokenizer behind the text.
    public enum Kind: Sendable {
        /// The arithmetic toy's character tokenizer.
        case characters(CharTokenizer)
        /// A Hugging Face tokenizer.json with its tokenizer_config.json.
        case huggingFace(LoadedTokenizer)
    }

    /// The directory read.
    public let directory: String
    /// The tokenizer.
    public let kind: Kind
    /// The chat template, when the directory has one.
    public let template: ChatTemplate?
    /// Why there is no chat template (for errors when one is needed).
    public let templateProblem: String?
    /// The tokenizer config's special tokens, as the template sees them.
    public let specialTokens: [String: Value]
    /// Ids that end a response.
    public let stopTokens: [Int32]
    /// `stopTokens` as a set (a response is cut at the first; stop strings check it after every token).
    let stopSet: Set<Int32>

    /// Reads `directory`'s text side for a model of `vocabSize` ids.
    public init(directory: String, vocabSize: Int) throws {
        self.directory = directory
        let hasTokenizer = FileManager.default.fileExists(
            atPath: URL(fileURLWithPath: directory).appendingPathComponent("tokenizer.json").path)
        guard hasTokenizer else {
            let chars = CharTokenizer()
            guard vocabSize >= chars.vocabSize else {
                throw DatasetError(
                    "\(directory) has no tokenizer.json and \(vocabSize) ids, fewer than the arithmetic "
                        + "toy's \(chars.vocabSize): give a model directory with its Hugging Face tokenizer "
                        + "(rpp model import-gguf writes one)")
            }
            kind = .characters(chars)
            template = nil
            templateProblem = "the arithmetic toy's character model has no chat template"
            specialTokens = [:]
            stopTokens = [chars.eosId]
            stopSet = [chars.eosId]
            return
        }
        let tokenizer: LoadedTokenizer
        do { tokenizer = try LoadedTokenizer(path: directory) } catch let e as TokenizerError {
            throw DatasetError("\(directory): \(e.message)")
        }
        kind = .huggingFace(tokenizer)
        var template: ChatTemplate? = nil
        var problem: String? = nil
        var special: [String: Value] = [:]
        do {
            let templates = try ChatTemplates.load(directory)
            special = templates.specialTokens
            template = try ChatTemplate(try templates.select(hasTools: false))
        } catch {
            problem = "\(directory): \(error)"
        }
        self.template = template
        templateProblem = problem
        specialTokens = special
        var stops = tokenizer.stopTokenIDs.filter { $0 < vocabSize }
        if let t = template, let end = Self.endOfTurnToken(t, specialTokens: special, tokenizer), end < vocabSize,
            !stops.contains(end)
        {
            stops.append(end)
        }
        guard !stops.isEmpty else {
            throw DatasetError(
                "\(directory): no EOS token (tokenizer_config.json eos_token or generation_config.json "
                    + "eos_token_id); set sampling.stop_tokens")
        }
        stopTokens = stops.map { Int32($0) }
        stopSet = Set(stopTokens)
    }

    /// Token ids of `text`: a rendered chat is tokenized as apply_chat_template does (`addSpecialTokens` false:
    /// the template wrote its special tokens), plain text as tokenizer(text).
    public func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] {
        switch kind {
        case .characters(let c): return try c.encode(text)
        case .huggingFace(let t):
            do { return try t.tokenizer.encode(text, addSpecialTokens: addSpecialTokens).map { Int32($0) } } catch {
                throw DatasetError("cannot tokenize \"\(text.prefix(60))\": \(error)")
            }
        }
    }

    /// Text of `ids` with special tokens kept (a prompt as the model saw it).
    public func text(_ ids: [Int32]) -> String {
        switch kind {
        case .characters(let c): return c.decode(ids)
        case .huggingFace(let t): return (try? t.decode(ids.map(Int.init))) ?? ""
        }
    }

    /// A response's text for a verifier: cut at its first stop token, special tokens skipped.
    public func response(_ ids: [Int32]) -> String {
        let cut = Array(ids.prefix { !stopSet.contains($0) })
        switch kind {
        case .characters(let c): return c.decode(cut)
        case .huggingFace(let t): return (try? t.decode(cut.map(Int.init), skipSpecialTokens: true)) ?? ""
        }
    }

    /// The token that closes an assistant turn in the template: the first special token after the reply's
    /// text when a short exchange is rendered (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, `</s>` ...).
    /// nil when the template cannot render the exchange or puts no special token there.
    public static func endOfTurnToken(
        _ template: ChatTemplate, specialTokens: [String: Value], _ tokenizer: LoadedTokenizer
    )
        -> Int?
    {
        let reply = "Reply text 7q"
        let messages = Conversation.value([
            .init(role: "user", content: "Hello"),
            .init(role: "assistant", content: reply),
        ])
        guard let text = try? template.render(ChatRequest(messages: messages), specialTokens: specialTokens),
            let range = text.range(of: reply, options: .backwards),
            let ids = try? tokenizer.tokenizer.encode(String(text[range.upperBound...]), addSpecialTokens: false)
        else { return nil }
        let special = Set(tokenizer.tokenizer.addedTokens.filter(\.special).map(\.id))
        return ids.first(where: special.contains)
    }

}

/// Stop strings (`sampling.stop`): a response ends once the text of its last tokens contains one.
public struct StopStrings: Sendable {
    /// The strings.
    public let strings: [String]
    let text: ModelText
    /// Tokens decoded from the end of a response (every token holds at least one byte of a stop string that
    /// ends in it, so this many always cover the longest string).
    let window: Int

    /// Stop strings decoded with `text`; nil when `strings` is empty.
    public init?(_ strings: [String], text: ModelText) {
        guard !strings.isEmpty else { return nil }
        self.strings = strings
        self.text = text
        window = (strings.map(\.utf8.count).max() ?? 1) + 1
    }

    /// True when the text of the response's last tokens contains a stop string.
    public func ends(_ response: [Int32]) -> Bool {
        let tail = text.response(Array(response.suffix(window)))
        return strings.contains { tail.contains($0) }
    }
}
