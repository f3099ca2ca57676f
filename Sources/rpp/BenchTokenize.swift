// `rpp bench tokenize`: encode throughput of a tokenizer on one thread over a generated corpus.
import ArgumentParser
import Foundation
import Model
import Tokenizers

/// `rpp bench tokenize --model DIR|tokenizer.json`: MB/s and tokens/s of encoding, one thread.
struct BenchTokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode throughput (MB/s, one thread) of a tokenizer.json on a generated corpus.",
        discussion: """
            The corpus (prose in several scripts, numbers, code, emoji, whitespace runs) is generated from a \
            seed, so runs compare. --write-corpus saves it as JSONL for Tests/Scripts/bench_tokenizer_peers.py, \
            which times Hugging Face tokenizers (Rust, one thread) on the same lines.
            """)

    @Option(help: "Model directory with tokenizer.json, or a tokenizer.json file.") var model: String
    @Option(help: "Corpus size in MB.") var megabytes: Int = 10
    @Option(help: "Timed passes over the corpus (the best is reported; a first untimed pass warms the cache).")
    var passes: Int = 3
    @Option(help: "Write the corpus as JSONL {\"text\": ...} to this file and exit.") var writeCorpus: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard megabytes > 0, megabytes <= 1000 else { throw ValidationError("--megabytes must be in 1...1000") }
        guard passes > 0 else { throw ValidationError("--passes must be positive") }
    }

    func run() throws {
        let lines = BenchCorpus.lines(bytes: megabytes * 1_000_000)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        if let path = writeCorpus {
            let text = lines.map { "{\"text\":" + TokenizeLines.jsonString($0) + "}\n" }.joined()
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            print("wrote \(lines.count) lines, \(bytes) bytes to \(path)")
            return
        }
        let tokenizer = try LoadedTokenizer(path: model).tokenizer
        var tokens = 0
        for line in lines { tokens += try tokenizer.encode(line, addSpecialTokens: false).count }
        var best = Double.infinity
        for _ in 0..<passes {
            let start = DispatchTime.now().uptimeNanoseconds
            var count = 0
            for line in lines { count += try tokenizer.encode(line, addSpecialTokens: false).count }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            precondition(count == tokens, "encoding is deterministic")
            best = min(best, seconds)
        }
        let mbps = Double(bytes) / 1e6 / best
        if json {
            print(
                String(
                    format: "{\"bytes\":%d,\"lines\":%d,\"tokens\":%d,\"seconds\":%.4f,\"mb_per_s\":%.2f}",
                    bytes, lines.count, tokens, best, mbps))
        } else {
            print(ModelBench.cpuLine())
            let format = "encode: %.2f MB/s, %.0f tokens/s (%d lines, %.1f MB, %d tokens, best of %d, one thread)"
            print(
                String(
                    format: format,
                    mbps, Double(tokens) / best, lines.count, Double(bytes) / 1e6, tokens, passes))
        }
    }
}
