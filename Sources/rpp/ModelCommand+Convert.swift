// `rpp model convert`: a checkpoint saved again, its weights stored as f32, bf16 or f16, with every
// config.json field and companion file (tokenizer, chat template, generation config) kept.
import ArgumentParser
import Foundation
import Model
import Roles
import Tasks

extension WeightDType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// `rpp model convert --model DIR --out DIR2 [--dtype bf16]`.
struct ConvertModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Save a checkpoint again with its weights stored as f32, bf16 or f16.",
        discussion: """
            Writes model.safetensors with the weights rounded to the dtype (to nearest, ties to even, as torch \
            rounds), and config.json with every field of the source's kept and its dtype naming the new one. The \
            source's other files (tokenizer, chat template, generation_config.json, reward_stats.json...) are \
            copied; its optimizer and trainer state are not. rpp computes in float32 whatever the file holds: bf16 \
            halves the file and gives the log-probs of the rounded weights.
            """)

    @Option(help: "Checkpoint directory to read (config.json, model.safetensors).") var model: String
    @Option(help: "Output directory (created; existing files of the same names are replaced).") var out: String
    @Option(help: "Weight dtype on disk.") var dtype: WeightDType = .f32

    func run() throws {
        let from = URL(fileURLWithPath: model)
        let to = URL(fileURLWithPath: out)
        let loaded: (model: Transformer, source: CheckpointSource)
        do { loaded = try Transformer.loadCheckpoint(directory: from) } catch {
            throw ModelCommandError("--model \(model): \(error)")
        }
        do {
            try loaded.model.save(directory: to, source: loaded.source, dtype: dtype)
            // The reward statistics describe these weights' scores, so a converted reward model keeps them.
            let stats = from.appendingPathComponent(RewardStats.fileName)
            if let data = try? Data(contentsOf: stats), !Transformer.sameDirectory(from, to) {
                try CheckpointFiles.write([CompanionFile(name: RewardStats.fileName, data: data)], to: to)
            }
        } catch {
            throw ModelCommandError("--out \(out): \(error)")
        }
        let weights = to.appendingPathComponent("model.safetensors").path
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: weights))?[.size] as? NSNumber)?.intValue ?? 0
        let files = loaded.source.files.map(\.name)
        print(
            "converted \(model) into \(out): \(loaded.model.layout.specs.count) tensors, "
                + "\(loaded.model.parameterCount) parameters as \(dtype.rawValue) ("
                + String(format: "%.1f MB", Double(bytes) / 1e6) + "); "
                + (files.isEmpty ? "no other files to copy" : "copied \(files.joined(separator: ", "))"))
    }
}
