// `rpp generate` and `rpp chat` on a tiny random model directory with a fixture tokenizer and chat template:
// the ids equal the library's `generate` on the prompt ids that `rpp template` and `rpp tokenize` give.
import Foundation
import Model
import TestKit
import XCTest

final class GenerateCommandTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-cli")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A random model with the SmolLM2 fixture tokenizer (600 ids, <|im_end|> = 2 as EOS) and its ChatML
    /// template; `tokenizer` names another fixture under Tests/Fixtures/tokenizers.
    @discardableResult
    private func makeModel(
        _ name: String = "model", tokenizer: String = "smollm2", context: Int = 128,
        vocab: Int = 1000, configure: (Transformer) -> Void = { _ in }
    ) throws -> URL {
        let config = ModelConfig(
            hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKVHeads: 2,
            vocabSize: vocab, maxPositionEmbeddings: context)
        let m = try Transformer(config: config)
        m.initializeWeights(seed: 7, std: 0.5)
        configure(m)
        let out = dir.appendingPathComponent(name)
        try m.save(directory: out)
        let fixtures = Fixtures.url("tokenizers/\(tokenizer)")
        try FileManager.default.copyItem(
            at: fixtures.appendingPathComponent("tokenizer.json"),
            to: out.appendingPathComponent("tokenizer.json"))
        let config2 =
            tokenizer == "smollm2"
            ? Fixtures.url("templates/smollm2/tokenizer_config.json")
            : fixtures.appendingPathComponent("tokenizer_config.json")
        try FileManager.default.copyItem(at: config2, to: out.appendingPathComponent("tokenizer_config.json"))
        return out
    }

    private func json(_ r: RPPRun) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    private func ints(_ v: Any?) -> [Int32] { (v as? [NSNumber])?.map { Int32(truncating: $0) } ?? [] }

    /// `rpp template` then `rpp tokenize`: the chat prompt ids as transformers' apply_chat_template gives them.
    private func chatPromptIDs(_ model: URL, messages: [[String: String]]) throws -> [Int32] {
        let request = dir.appendingPathComponent("request.jsonl")
        try JSONSerialization.data(withJSONObject: ["messages": messages, "add_generation_prompt": true])
            .write(to: request)
        let rendered = try RPP.run(["template", "--model", model.path, "--input", request.path])
        XCTAssertEqual(rendered.status, 0, rendered.stderr)
        let text = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(rendered.stdout.utf8))
                as? [String: Any])?["text"] as? String)
        return try tokenIDs(model, text)
    }

    private func tokenIDs(_ model: URL, _ text: String) throws -> [Int32] {
        let input = dir.appendingPathComponent("text.jsonl")
        try JSONSerialization.data(withJSONObject: ["text": text]).write(to: input)
        let r = try RPP.run(["tokenize", "--model", model.path, "--input", input.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return ints((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["ids"])
    }

    private func decode(_ model: URL, _ ids: [Int32]) throws -> String {
        let input = dir.appendingPathComponent("ids.jsonl")
        try JSONSerialization.data(withJSONObject: ["ids": ids.map(Int.init)]).write(to: input)
        let r = try RPP.run([
            "tokenize", "--model", model.path, "--decode", "--skip-special-tokens", "--input",
            input.path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["text"]
                as? String)
    }

    /// The library's greedy continuation (stopping at <|im_end|>).
    private func libraryGreedy(_ model: URL, _ prompt: [Int32], _ n: Int) throws -> Generation {
        try Transformer.load(directory: model).generate(
            prompts: [prompt], options: SamplingOptions(temperature: 0, maxNewTokens: n, stopTokens: [2]))
    }

    func testGreedyIDsEqualTheLibrarysGenerate() throws {
        let model = try makeModel()
        let plain = try json(
            try RPP.run([
                "generate", "--model", model.path, "--prompt", "Hello world, 12 + 3 =",
                "--temperature", "0", "--max-new-tokens", "12", "--json",
            ]))
        let prompt = ints(plain["prompt_ids"])
        XCTAssertEqual(prompt, try tokenIDs(model, "Hello world, 12 + 3 ="))
        let want = try libraryGreedy(model, prompt, 12)
        XCTAssertEqual(ints(plain["ids"]), want.tokens[0])
        XCTAssertEqual(plain["finish"] as? String, want.finish[0].rawValue)
        let logprobs = try XCTUnwrap(plain["logprobs"] as? [NSNumber]).map(\.floatValue)
        for (a, b) in zip(logprobs, want.logprobs[0]) { XCTAssertEqual(a, b, accuracy: 1e-4) }

        let chat = try json(
            try RPP.run([
                "generate", "--model", model.path, "--prompt", "What is 2+2?", "--chat",
                "--system", "Be terse.", "--temperature", "0", "--max-new-tokens", "10",
                "--json",
            ]))
        let chatPrompt = ints(chat["prompt_ids"])
        XCTAssertEqual(
            chatPrompt,
            try chatPromptIDs(
                model,
                messages: [
                    ["role": "system", "content": "Be terse."],
                    ["role": "user", "content": "What is 2+2?"],
                ]))
        XCTAssertEqual(ints(chat["ids"]), try libraryGreedy(model, chatPrompt, 10).tokens[0])
    }

    func testBF16GreedyIDsEqualTheLibrarysBF16Generate() throws {
        let model = try makeModel()
        let r = try RPP.run([
            "generate", "--model", model.path, "--prompt", "Hello world, 12 + 3 =", "--temperature", "0",
            "--max-new-tokens", "12", "--json", "--precision", "bf16",
        ])
        let out = try json(r)
        XCTAssertTrue(r.stderr.contains("rpp generate: products bf16, matmul: bf16 weights"), r.stderr)
        let prompt = ints(out["prompt_ids"])
        let library = try Transformer.load(directory: model)
        library.usePrecision(.bf16, keepFloat32: false)
        let want = try library.generate(
            prompts: [prompt], options: SamplingOptions(temperature: 0, maxNewTokens: 12, stopTokens: [2]))
        XCTAssertEqual(ints(out["ids"]), want.tokens[0])
        // The log-probs are the bf16 model's, not the fp32 one's.
        let logprobs = try XCTUnwrap(out["logprobs"] as? [NSNumber]).map(\.floatValue)
        XCTAssertEqual(logprobs.count, want.logprobs[0].count)
        for (a, b) in zip(logprobs, want.logprobs[0]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        let fp32 = try libraryGreedy(model, prompt, 12)
        let gap = zip(logprobs, fp32.logprobs[0]).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(gap, 1e-4, "bf16 log-probs equal the fp32 model's")
        let bad = try RPP.run(["generate", "--model", model.path, "--prompt", "x", "--precision", "fp16"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--precision"), bad.stderr)
    }

    func testPromptFromAFileOrStandardInput() throws {
        let model = try makeModel()
        let text = "Line one\n  line two é\n"
        let file = dir.appendingPathComponent("prompt.txt")
        try Data(text.utf8).write(to: file)
        let args = ["generate", "--model", model.path, "--temperature", "0", "--max-new-tokens", "4", "--json"]
        let direct = try json(try RPP.run(args + ["--prompt", text]))
        let fromFile = try json(try RPP.run(args + ["--prompt-file", file.path]))
        let fromStdin = try json(try RPP.run(args + ["--prompt-file", "-"], stdin: text))
        XCTAssertEqual(ints(direct["prompt_ids"]), try tokenIDs(model, text))
        XCTAssertEqual(ints(fromFile["prompt_ids"]), ints(direct["prompt_ids"]))
        XCTAssertEqual(ints(fromStdin["prompt_ids"]), ints(direct["prompt_ids"]))
        XCTAssertEqual(ints(fromStdin["ids"]), ints(direct["ids"]))
    }

    func testPlainPromptGetsTheBOSTheTokenizerAdds() throws {
        let model = try makeModel(tokenizer: "llama2-bos-eos")
        let out = try json(
            try RPP.run([
                "generate", "--model", model.path, "--prompt", "Hello there",
                "--temperature", "0", "--max-new-tokens", "3", "--json",
            ]))
        let prompt = ints(out["prompt_ids"])
        XCTAssertEqual(prompt.first, 1, "the post-processor's <s>")
        XCTAssertEqual(prompt, try tokenIDs(model, "Hello there"))
    }

    func testStreamedTextEqualsTheFinalText() throws {
        let model = try makeModel()
        for seed in ["1", "2", "3"] {
            let args = [
                "generate", "--model", model.path, "--prompt", "Once upon a time", "--temperature", "1.5",
                "--top-k", "0", "--seed", seed, "--max-new-tokens", "40",
            ]
            let streamed = try RPP.run(args)
            XCTAssertEqual(streamed.status, 0, streamed.stderr)
            let final = try json(try RPP.run(args + ["--json"]))
            let text = try XCTUnwrap(final["text"] as? String)
            XCTAssertEqual(streamed.stdout, text + "\n")
            XCTAssertEqual(text, try decode(model, ints(final["ids"]).filter { $0 != 2 }))
            XCTAssertTrue(streamed.stderr.contains("tokens/s"), streamed.stderr)
            XCTAssertEqual(final["seed"] as? Int, Int(seed))
        }
    }

    func testSamplingIsReproducibleFromTheSeedAndTopKOneIsGreedy() throws {
        let model = try makeModel()
        let args = ["generate", "--model", model.path, "--prompt", "abc", "--max-new-tokens", "16", "--json"]
        let sample = args + ["--temperature", "1", "--top-k", "0"]
        let a = try json(try RPP.run(sample + ["--seed", "9"]))
        let b = try json(try RPP.run(sample + ["--seed", "9"]))
        XCTAssertEqual(ints(a["ids"]), ints(b["ids"]))
        let c = try json(try RPP.run(sample + ["--seed", "10"]))
        XCTAssertNotEqual(ints(a["ids"]), ints(c["ids"]), "another seed, another continuation")
        let topOne = try json(try RPP.run(args + ["--temperature", "1", "--seed", "4", "--top-k", "1"]))
        let greedy = try json(try RPP.run(args + ["--temperature", "0"]))
        XCTAssertEqual(ints(topOne["ids"]), ints(greedy["ids"]))
    }

    /// A template whose turns end with <|endoftext|> (id 0) while the tokenizer's EOS is <|im_end|>: a model whose
    /// logits are all zero greedily picks id 0, which ends a chat reply but not a plain continuation.
    func testChatRepliesStopAtTheTemplatesEndOfTurnToken() throws {
        let model = try makeModel { m in
            let norm = try! XCTUnwrap(m.layout.specs.first { $0.name == "model.norm.weight" })
            (m.params.pointer + norm.offset).update(repeating: 0, count: norm.count)
        }
        let config: [String: Any] = [
            "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
            "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|endoftext|>\n"
                + "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
        ]
        try JSONSerialization.data(withJSONObject: config)
            .write(to: model.appendingPathComponent("tokenizer_config.json"))
        let chat = try json(
            try RPP.run([
                "generate", "--model", model.path, "--prompt", "Hi", "--chat",
                "--temperature", "0", "--max-new-tokens", "5", "--json",
            ]))
        XCTAssertEqual(ints(chat["ids"]), [0])
        XCTAssertEqual(chat["finish"] as? String, "stop")
        XCTAssertEqual(chat["text"] as? String, "")
        let plain = try json(
            try RPP.run([
                "generate", "--model", model.path, "--prompt", "Hi",
                "--temperature", "0", "--max-new-tokens", "5", "--json",
            ]))
        XCTAssertEqual(ints(plain["ids"]), [0, 0, 0, 0, 0])
        XCTAssertEqual(plain["finish"] as? String, "length")
    }

    func testChatAnswersTurnsOverPipedInputAndResets() throws {
        let model = try makeModel()
        let flags = ["--temperature", "0", "--max-new-tokens", "8"]
        let r = try RPP.run(
            ["chat", "--model", model.path, "--system", "Be kind."] + flags,
            stdin: "Hi\nHow are you?\n\n/reset\nHi\n/exit\nNot answered\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        let system = ["role": "system", "content": "Be kind."]
        let first = try libraryGreedy(
            model,
            try chatPromptIDs(
                model,
                messages: [
                    system,
                    [
                        "role": "user",
                        "content": "Hi",
                    ],
                ]), 8)
        let reply1 = try decode(model, first.tokens[0].filter { $0 != 2 })
        let history = [
            system, ["role": "user", "content": "Hi"], ["role": "assistant", "content": reply1],
            ["role": "user", "content": "How are you?"],
        ]
        let second = try libraryGreedy(model, try chatPromptIDs(model, messages: history), 8)
        let reply2 = try decode(model, second.tokens[0].filter { $0 != 2 })
        XCTAssertEqual(r.stdout, reply1 + "\n\n" + reply2 + "\n\n" + reply1 + "\n\n")
        XCTAssertTrue(r.stderr.contains("conversation reset"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "tokens/s").count - 1, 3, r.stderr)
        // --chat gives the same first reply.
        let once = try RPP.run(
            [
                "generate", "--model", model.path, "--prompt", "Hi", "--chat", "--system",
                "Be kind.",
            ] + flags)
        XCTAssertEqual(once.stdout, reply1 + "\n")
    }

    func testChatEndsAtEndOfInputAndRefusesATurnThatDoesNotFit() throws {
        let model = try makeModel(context: 100)
        let long = String(repeating: "many words here ", count: 40)
        let r = try RPP.run(
            ["chat", "--model", model.path, "--temperature", "0", "--max-new-tokens", "4"],
            stdin: "\(long)\nHi")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("max_position_embeddings"), r.stderr)
        XCTAssertTrue(r.stderr.contains("/reset"), r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "tokens/s").count - 1, 1, "the short turn is answered")
    }

    func testErrorsAreClear() throws {
        let model = try makeModel()
        func fails(_ args: [String], _ needle: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try RPP.run(args)
            XCTAssertTrue([1, 64].contains(r.status), "\(args): \(r.status) \(r.stderr)", file: file, line: line)
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)", file: file, line: line)
        }
        let g = ["generate", "--model", model.path, "--prompt"]
        try fails(["generate", "--model", dir.appendingPathComponent("none").path, "--prompt", "x"], "not a directory")
        try fails(g + ["x", "--system", "s"], "--system needs --chat")
        try fails(g + ["x", "--top-p", "0"], "--top-p")
        try fails(g + ["x", "--max-new-tokens", "0"], "--max-new-tokens")
        try fails(g + ["x", "--temperature=-1"], "--temperature")
        try fails(g + [String(repeating: "word ", count: 200)], "max_position_embeddings")
        try fails(g + [""], "empty")
        try fails(["generate", "--model", model.path], "give one of --prompt and --prompt-file")
        try fails(g + ["x", "--prompt-file", "-"], "give one of --prompt and --prompt-file")
        try fails(
            ["generate", "--model", model.path, "--prompt-file", dir.appendingPathComponent("no").path],
            "cannot read the prompt file")

        let bare = try makeModel("bare")
        try FileManager.default.removeItem(at: bare.appendingPathComponent("tokenizer.json"))
        try fails(["generate", "--model", bare.path, "--prompt", "x"], "no tokenizer.json")

        let small = try makeModel("small", vocab: 300)
        try fails(
            ["generate", "--model", small.path, "--prompt", "Hello, wonderful world of tokens"],
            "does not belong to its weights")

        let plain = try makeModel("plain", tokenizer: "llama2-bos-eos")
        try fails(["generate", "--model", plain.path, "--prompt", "x", "--chat"], "no chat template")
        try fails(["chat", "--model", plain.path], "no chat template")
        let r = try RPP.run(["generate", "--model", plain.path, "--prompt", "x", "--max-new-tokens", "2"])
        XCTAssertEqual(r.status, 0, "without --chat no template is needed: \(r.stderr)")
    }
}

extension RPP {
    /// Runs `rpp` with `stdin` as its standard input.
    static func run(_ arguments: [String], stdin: String) throws -> RPPRun {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let input = Pipe()
        let out = Pipe()
        let err = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = err
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RPPRun(
            status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }
}
