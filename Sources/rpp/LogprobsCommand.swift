// `rpp logprobs`: next-token log-probs of token sequences under a checkpoint.
import ArgumentParser
import Foundation
import Model

/// `rpp logprobs --model DIR --input FILE.jsonl`: one {"logprobs": [...]} line per {"tokens": [...]} line.
struct LogprobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logprobs",
        abstract: "Print log p(tokens[i+1] | tokens[0...i]) for each JSONL line {\"tokens\": [ids...]}.")

    @Option(help: "Checkpoint directory (config.json, model.safetensors).") var model: String
    @Option(help: "JSONL input, one {\"tokens\": [...]} per line (- for stdin).") var input: String
    @Option(help: "Temperature applied to the logits.") var temperature: Float = 1

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let m = try Transformer.load(directory: URL(fileURLWithPath: model))
        let handle = input == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: input)
        guard let data = try? handle?.readToEnd() ?? Data(), handle != nil,
            let text = String(data: data, encoding: .utf8)
        else {
            throw ModelCommandError("cannot read \(input)")
        }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let raw = obj["tokens"] as? [NSNumber]
            else {
                throw ModelCommandError("\(input):\(i + 1): expected {\"tokens\": [ids...]}")
            }
            let tokens = raw.map { Int32(truncating: $0) }
            guard tokens.count >= 2 else {
                print("{\"logprobs\":[]}")
                continue
            }
            let T = tokens.count - 1
            do {
                try m.forward(tokens: Array(tokens[0..<T]), batch: 1, seqLen: T, forBackward: false)
                let lp = try m.logProbs(targets: Array(tokens[1...]), temperature: temperature).logp
                print("{\"logprobs\":[" + lp.map { String(format: "%.7g", $0) }.joined(separator: ",") + "]}")
            } catch {
                throw ModelCommandError("\(input):\(i + 1): \(error)")
            }
        }
    }
}
