// Text in, text out: a model directory's weights, tokenizer, chat template and stop tokens, used by
// `rpp generate` and `rpp chat`.
import ChatTemplate
import Foundation
import Model
import Tasks
import Tokenizers

/// A model directory ready to continue text: the checkpoint, its tokenizer, its chat template (when it has
/// one) and the ids that end a reply.
final class TextGenerator {
    let model: Transformer
    let tokenizer: LoadedTokenizer
    let directory: String
    /// The compiled chat template, or why there is none.
    let template: Result<ChatTemplate, ModelCommandError>
    /// Special tokens the template sees as variables (bos_token, eos_token, ...).
    let specialTokens: [String: Value]
    /// generation_config.json's eos_token_id(s), else the tokenizer's EOS: where any generation stops.
    let stopTokens: Set<Int32>
    /// The template's end-of-turn token, where a chat reply also stops.
    let endOfTurnToken: Int32?
    /// Sampling settings of generation_config.json.
    let defaults: GenerationDefaults

    /// Loads `directory`: the tokenizer files first (they are small and their absence is the common mistake),
    /// then the chat template, then config.json and model.safetensors; with `.bf16` the model then holds its
    /// weights in bfloat16 only.
    init(directory: String, precision: ModelPrecision = .fp32) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw ModelCommandError(
                "\(directory) is not a directory (give a model directory with config.json, "
                    + "model.safetensors and tokenizer.json)")
        }
        self.directory = directory
        let url = URL(fileURLWithPath: directory)
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("tokenizer.json").path) else {
            throw ModelCommandError(
                "\(directory) has no tokenizer.json: generation needs the model's Hugging Face "
                    + "tokenizer beside its weights (rpp model import-gguf writes one)")
        }
        do {
            tokenizer = try LoadedTokenizer(path: directory)
        } catch let e as TokenizerError {
            throw ModelCommandError("\(directory): \(e.message)")
        }
        var special: [String: Value] = [:]
        do {
            let templates = try ChatTemplates.load(directory)
            special = templates.specialTokens
            template = .success(try ChatTemplate(try templates.select(hasTools: false)))
        } catch {
            template = .failure(ModelCommandError("\(directory): \(error)"))
        }
        specialTokens = special
        defaults = try GenerationDefaults(directory: url)
        model = try Transformer.load(directory: url)
        if precision == .bf16 { model.usePrecision(.bf16, keepFloat32: false) }
        let vocab = model.config.vocabSize
        stopTokens = Set(tokenizer.stopTokenIDs.filter { $0 < vocab }.map { Int32($0) })
        if case .success(let t) = template, let end = ModelText.endOfTurnToken(t, specialTokens: special, tokenizer),
            end < vocab
        {
            endOfTurnToken = Int32(end)
        } else {
            endOfTurnToken = nil
        }
    }

    /// The chat template, or a clear error when the directory has none.
    func chatTemplate() throws -> ChatTemplate {
        switch template {
        case .success(let t): return t
        case .failure(let e): throw ModelCommandError("\(e.description); --chat and rpp chat need a chat template")
        }
    }

    /// The conversation rendered with the generation prompt, as apply_chat_template(..., add_generation_prompt=True).
    func render(_ conversation: Conversation) throws -> String {
        do {
            return try chatTemplate().render(
                conversation.request(addGenerationPrompt: true),
                specialTokens: specialTokens)
        } catch let e as ModelCommandError {
            throw e
        } catch {
            throw ModelCommandError("the chat template failed: \(error)")
        }
    }

    /// Token ids of `text`: a rendered chat is tokenized as apply_chat_template does (the template wrote its
    /// special tokens), plain text as tokenizer(text) (with the special tokens its post-processor adds).
    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] {
        let ids: [Int]
        do {
            ids = try tokenizer.tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
        } catch let e as TokenizerError {
            throw ModelCommandError("cannot tokenize the prompt: \(e.message)")
        }
        let vocab = model.config.vocabSize
        if let bad = ids.first(where: { $0 >= vocab }) {
            throw ModelCommandError(
                "the tokenizer gave id \(bad) but the model's vocab_size is \(vocab): "
                    + "\(directory)'s tokenizer.json does not belong to its weights")
        }
        return ids.map { Int32($0) }
    }

    /// How many new tokens fit after a prompt of `promptCount` tokens (at most `requested`); an error naming
    /// the model's context length when the prompt leaves no room.
    func newTokenBudget(promptCount: Int, requested: Int) throws -> Int {
        let context = model.config.maxPositionEmbeddings
        guard promptCount > 0 else { throw ModelCommandError("the prompt is empty (it has no tokens)") }
        guard promptCount < context else {
            throw ModelCommandError(
                "the prompt has \(promptCount) tokens but the model's context "
                    + "(max_position_embeddings in config.json) is \(context): shorten it")
        }
        return min(requested, context - promptCount)
    }

    /// Continues `prompt`, calling `onText` with each piece of decoded text as soon as it forms whole
    /// characters. A stop token (with `chat`, the end-of-turn token too) ends the reply and is not part of its text.
    func generate(
        prompt: [Int32], chat: Bool, options: SamplingOptions, showSpecialTokens: Bool,
        onText: (String) -> Void
    ) throws -> TextGeneration {
        var options = options
        options.stopTokens = stopTokens
        if chat, let endOfTurnToken { options.stopTokens.insert(endOfTurnToken) }
        options.maxNewTokens = try newTokenBudget(promptCount: prompt.count, requested: options.maxNewTokens)
        var stream = StreamDecoder(tokenizer: tokenizer, skipSpecialTokens: !showSpecialTokens)
        var streamError: Error?
        let start = DispatchTime.now().uptimeNanoseconds
        var firstToken: UInt64?
        let out = try withoutActuallyEscaping(onText) { onText in
            try model.generate(prompts: [prompt], options: options) { _, token in
                if firstToken == nil { firstToken = DispatchTime.now().uptimeNanoseconds }
                guard !options.stopTokens.contains(token) else { return true }
                do {
                    if let piece = try stream.step(Int(token)) { onText(piece) }
                    return true
                } catch {
                    streamError = error
                    return false
                }
            }
        }
        if let streamError { throw ModelCommandError("cannot decode the generated tokens: \(streamError)") }
        let end = DispatchTime.now().uptimeNanoseconds
        let rest = try stream.finish()
        if !rest.isEmpty { onText(rest) }
        let ids = out.tokens[0]
        let finish = out.finish[0]
        let textIDs = finish == .stop && !ids.isEmpty ? ids.dropLast() : ids[...]
        let text = try tokenizer.decode(textIDs.map { Int($0) }, skipSpecialTokens: !showSpecialTokens)
        let first = firstToken ?? end
        return TextGeneration(
            promptIDs: prompt, ids: ids, text: text, logprobs: out.logprobs[0], finish: finish.rawValue,
            seed: options.seed, prefillSeconds: Double(first - start) / 1e9, decodeSeconds: Double(end - first) / 1e9)
    }
}

/// One generated reply and how long it took.
struct TextGeneration: Encodable {
    var promptIDs: [Int32]
    /// New token ids, the stop token included when `finish` is "stop".
    var ids: [Int32]
    /// The reply's text (without the stop token).
    var text: String
    /// Log-prob of each new token under the sampling temperature (1 for greedy).
    var logprobs: [Float]
    /// "stop" (a stop token) or "length" (--max-new-tokens or the model's context).
    var finish: String
    var seed: UInt64
    /// Prompt forward and first token.
    var prefillSeconds: Double
    /// Every token after the first.
    var decodeSeconds: Double

    /// New tokens per second after the first (nil with fewer than two tokens).
    var decodeTokensPerSecond: Double? {
        ids.count > 1 && decodeSeconds > 0 ? Double(ids.count - 1) / decodeSeconds : nil
    }

    /// The stderr summary line.
    var summary: String {
        var s =
            "\(promptIDs.count) prompt tokens in \(String(format: "%.2f", prefillSeconds)) s, "
            + "\(ids.count) new tokens (\(finish))"
        if let rate = decodeTokensPerSecond { s += ", decode \(String(format: "%.1f", rate)) tokens/s" }
        return s
    }

    private enum CodingKeys: String, CodingKey {
        case promptIDs = "prompt_ids"
        case ids, text, logprobs, finish, seed
        case prefillSeconds = "prefill_seconds"
        case decodeSeconds = "decode_seconds"
    }
}
