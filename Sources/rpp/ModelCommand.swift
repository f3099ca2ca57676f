// `rpp model ...`: tools that bring models from elsewhere into rpp's checkpoint format.
import ArgumentParser
import Foundation
import Model

/// `rpp model`: model conversion tools.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Bring models into rpp's Hugging Face checkpoint format, and convert checkpoints between dtypes.",
        subcommands: [ImportGGUFCommand.self, ConvertModelCommand.self])
}

/// `rpp model import-gguf FILE --out DIR`: a GGUF file (llama.cpp) as a Hugging Face directory.
struct ImportGGUFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-gguf",
        abstract: "Convert a GGUF file (llama or qwen2) into config.json, model.safetensors (F32) and tokenizer files.",
        discussion: """
            Tensors of type F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K are dequantised to float32; the \
            rotary reordering llama.cpp applies to the q and k rows is undone. The tokenizer (byte-level BPE) is \
            rebuilt from the file's vocabulary, merges and token types; the chat template goes to \
            tokenizer_config.json. The output loads with `rpp logprobs --model DIR` and with transformers.
            """)

    @Argument(help: "The GGUF file.") var file: String
    @Option(help: "Output directory (created; existing files of the same names are replaced).") var out: String

    func run() throws {
        let start = ContinuousClock.now
        let source = URL(fileURLWithPath: file)
        let summary: GGUFImportSummary
        do {
            summary = try GGUFImporter.importFile(source, into: URL(fileURLWithPath: out)) { line in
                FileHandle.standardError.write(Data("import-gguf: \(line)\n".utf8))
            }
        } catch let e as GGUFError {
            throw ModelCommandError("\(file): \(e.message)")
        }
        for w in summary.warnings { FileHandle.standardError.write(Data("import-gguf: warning: \(w)\n".utf8)) }
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        let types = summary.sourceTypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(
            separator: ", ")
        print(
            "imported \(file) into \(out): \(summary.tensors) tensors (from \(types)), "
                + "\(summary.parameters) parameters ("
                + String(format: "%.1fM), %.1f s", Double(summary.parameters) / 1e6, seconds))
    }
}
