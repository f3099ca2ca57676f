// `rpp tokenize`: encode or decode JSONL lines with a Hugging Face tokenizer.
import ArgumentParser
import Foundation
import Tokenizers

/// `rpp tokenize --model DIR|tokenizer.json [--decode]`: one output line per JSONL input line.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode {\"text\": ...} lines to {\"ids\": [...]} (or --decode the reverse) with a tokenizer.json.",
        discussion: """
            The ids are transformers' tokenizer(text)["input_ids"], with the special tokens the tokenizer's \
            post-processor adds; --decode gives tokenizer.decode(ids) with special tokens kept. The model \
            directory's tokenizer_config.json (special tokens) is applied when present.
            """)

    @Option(help: "Model directory with tokenizer.json (and tokenizer_config.json), or a tokenizer.json file.")
    var model: String
    @Option(help: "JSONL input file (- for stdin).") var input: String = "-"
    @Flag(help: "Decode {\"ids\": [...]} lines to {\"text\": ...}.") var decode = false
    @Flag(help: "With --decode, drop special tokens.") var skipSpecialTokens = false

    func run() throws {
        let lines = TokenizeLines(
            tokenizer: try LoadedTokenizer(path: model), decode: decode,
            skipSpecialTokens: skipSpecialTokens)
        var out = FileHandleOutput()
        if input == "-" {
            var n = 0
            while let line = readLine(strippingNewline: true) {
                n += 1
                do {
                    if let result = try lines.process(line, lineNumber: n) { out.write(result) }
                } catch {
                    out.flush()
                    throw error
                }
            }
        } else {
            guard let data = FileManager.default.contents(atPath: input) else {
                throw TokenizerError("cannot read \(input)")
            }
            let text = String(decoding: data, as: UTF8.self)
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                do {
                    if let result = try lines.process(String(line), lineNumber: i + 1) { out.write(result) }
                } catch let e as TokenizerError {
                    out.flush()
                    throw TokenizerError("\(input): \(e.message)")
                }
            }
        }
        out.flush()
    }
}

/// Buffered writes to stdout, one line each.
struct FileHandleOutput {
    private var buffer = Data()

    mutating func write(_ line: String) {
        buffer.append(contentsOf: Array(line.utf8))
        buffer.append(10)
        if buffer.count > 1 << 16 { flush() }
    }

    mutating func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
