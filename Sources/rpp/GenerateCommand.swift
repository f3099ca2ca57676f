// `rpp generate`: continue one prompt with a model directory, streaming the text as it is decoded.
import ArgumentParser
import ChatTemplate
import Foundation
import Model

extension ModelPrecision: ExpressibleByArgument {}

/// How `rpp generate` and `rpp chat` decode: the sampling options and the precision of the model's products.
struct SamplingFlags: ParsableArguments {
    @Option(
        help: "Sampling temperature; 0 is greedy. Default: generation_config.json's when it sets do_sample, else 0.")
    var temperature: Float?
    @Option(help: "Nucleus sampling mass in (0, 1]; 1 is off. Default: generation_config.json's top_p, else 1.")
    var topP: Float?
    @Option(help: "Sample among the k most likely tokens; 0 is off. Default: generation_config.json's top_k, else 50.")
    var topK: Int?
    @Option(help: "Most new tokens per reply (fewer when the model's context runs out).")
    var maxNewTokens = 256
    @Option(help: "Sampling seed (default: a random one, printed with --json).")
    var seed: UInt64?
    @Flag(help: "Keep special tokens (other than the stop token) in the printed text.")
    var showSpecialTokens = false
    @Option(
        help: """
            Precision of the model's matrix products: fp32, or bf16 (weights held in bfloat16, half the memory; \
            see docs/precision.md for what it does on this CPU).
            """)
    var precision: ModelPrecision = .fp32

    func validate() throws {
        if let temperature { try checkRange(Double(temperature), 0...100, "--temperature") }
        if let topP {
            guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1] (found \(topP))") }
        }
        if let topK { try checkRange(topK, 0...(1 << 24), "--top-k") }
        try checkRange(maxNewTokens, 1...(1 << 20), "--max-new-tokens")
    }

    /// The options for `generator`'s model: flags first, then generation_config.json.
    func options(_ defaults: GenerationDefaults) -> SamplingOptions {
        SamplingOptions(
            temperature: temperature ?? defaults.defaultTemperature, topP: topP ?? defaults.defaultTopP,
            topK: topK ?? defaults.defaultTopK, maxNewTokens: maxNewTokens,
            seed: seed ?? UInt64.random(in: 0...UInt64.max))
    }
}

/// `rpp generate --model DIR --prompt TEXT [--chat]`.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a model directory and print the text as it is generated.",
        discussion: """
            The prompt is --prompt TEXT or the contents of --prompt-file FILE (- for standard input). \
            The model directory holds config.json, model.safetensors and tokenizer.json (tokenizer_config.json, \
            a chat template and generation_config.json when present), as `rpp model import-gguf` writes them. \
            With --chat the prompt is a user message rendered through the chat template with the generation \
            prompt (as apply_chat_template(..., add_generation_prompt=True)); without it the prompt is tokenized \
            as tokenizer(prompt) does, with the special tokens the tokenizer adds. Generation stops at the \
            model's EOS (generation_config.json's eos_token_id) or the template's end-of-turn token, or after \
            --max-new-tokens. The text goes to stdout as it is decoded; a summary with tokens/s goes to stderr. \
            --json prints one object instead: prompt_ids, ids (the stop token included), text, logprobs, \
            finish ("stop" or "length"), seed and timings.
            """)

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json).") var model: String
    @Option(help: "The prompt text.") var prompt: String?
    @Option(help: "Read the prompt from this file instead (- for standard input), as is.") var promptFile: String?
    @Flag(help: "Render the prompt as a user message through the model's chat template.") var chat = false
    @Option(help: "With --chat, a system message put before the prompt.") var system: String?
    @OptionGroup var sampling: SamplingFlags
    @Flag(help: "Print one JSON object (ids, text, logprobs, finish) instead of streaming text.") var json = false

    func validate() throws {
        if system != nil && !chat { throw ValidationError("--system needs --chat") }
        if (prompt == nil) == (promptFile == nil) { throw ValidationError("give one of --prompt and --prompt-file") }
    }

    /// The prompt from --prompt or --prompt-file.
    func promptText() throws -> String {
        if let prompt { return prompt }
        let path = promptFile ?? "-"
        let data =
            path == "-"
            ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
        guard let data else { throw ModelCommandError("cannot read the prompt file \(path)") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelCommandError("the prompt file \(path) is not UTF-8 text")
        }
        return text
    }

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let prompt = try promptText()
        let generator = try TextGenerator(directory: model, precision: sampling.precision)
        if sampling.precision == .bf16 {
            FileHandle.standardError.write(
                Data("rpp generate: products \(sampling.precision.kernelDescription)\n".utf8))
        }
        let ids: [Int32]
        if chat {
            var conversation = Conversation(system: system)
            conversation.addUser(prompt)
            ids = try generator.encode(try generator.render(conversation), addSpecialTokens: false)
        } else {
            ids = try generator.encode(prompt, addSpecialTokens: true)
        }
        let out = FileHandle.standardOutput
        let result = try generator.generate(
            prompt: ids, chat: chat, options: sampling.options(generator.defaults),
            showSpecialTokens: sampling.showSpecialTokens
        ) { piece in
            if !json { out.write(Data(piece.utf8)) }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            out.write(try encoder.encode(result) + Data("\n".utf8))
        } else {
            out.write(Data("\n".utf8))
        }
        FileHandle.standardError.write(Data("rpp generate: \(result.summary)\n".utf8))
    }
}
