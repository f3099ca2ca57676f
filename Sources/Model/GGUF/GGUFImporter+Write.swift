// Writing the imported model as a Hugging Face directory: config.json, model.safetensors (F32),
// tokenizer.json, tokenizer_config.json and generation_config.json. config.json is written last, so a
// directory that has it is complete.
import Foundation

/// What an import wrote.
public struct GGUFImportSummary: Sendable {
    /// Tensors written to model.safetensors.
    public var tensors: Int
    /// Parameters (elements of those tensors).
    public var parameters: Int
    /// The GGUF types the weights came from, with their tensor counts.
    public var sourceTypes: [String: Int]
    /// Problems that did not stop the import (for example an unknown pre-tokenizer name).
    public var warnings: [String]
}

extension GGUFImporter {
    /// Imports the file at `url` into `directory`; `progress` receives one line per decoder block and file.
    public static func importFile(
        _ url: URL, into directory: URL,
        progress: (String) -> Void = { _ in }
    ) throws -> GGUFImportSummary {
        let importer = try GGUFImporter(file: try GGUFFile(contentsOf: url))
        return try importer.write(to: directory, progress: progress)
    }

    /// Writes the five files into `directory` (created if needed).
    public func write(to directory: URL, progress: (String) -> Void = { _ in }) throws -> GGUFImportSummary {
        let c = config
        progress(
            "\(architecture): \(c.numLayers) layers, hidden \(c.hiddenSize), FFN \(c.intermediateSize), "
                + "heads \(c.numHeads)/\(c.numKVHeads), vocabulary \(c.vocabSize), tied \(c.tieWordEmbeddings)")
        // Everything that can fail on the file's metadata is checked before the weights are read.
        let (tokenizer, warnings) = try tokenizerJSON()
        let tokenizerConfig = try tokenizerConfigJSON()
        let generation = try generationConfigJSON()
        let cfg = try configJSON()
        do { _ = try ModelConfig(jsonData: cfg) } catch {
            throw GGUFError(.unsupported, "the imported config.json: \(error)")
        }
        var types: [String: Int] = [:]
        var lastBlock = -1
        let (layout, values) = try weights { _, info, _ in
            types[info.type.name, default: 0] += 1
            if info.name.hasPrefix("blk."), let n = Int(info.name.split(separator: ".")[1]), n != lastBlock {
                lastBlock = n
                progress("block \(n + 1)/\(c.numLayers)")
            }
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw GGUFError(.io, "cannot create \(directory.path): \(error.localizedDescription)")
        }
        let config = directory.appendingPathComponent("config.json")
        try? FileManager.default.removeItem(at: config)
        let tensors = layout.specs.map { s in
            (
                name: s.name, shape: s.shape,
                values: UnsafeBufferPointer(start: values.pointer + s.offset, count: s.count)
            )
        }
        progress("writing model.safetensors (\(layout.totalCount * 4 / 1_000_000) MB)")
        try save(try SafetensorsFile.serialize(tensors), directory, "model.safetensors")
        try save(tokenizer, directory, "tokenizer.json")
        try save(tokenizerConfig, directory, "tokenizer_config.json")
        try save(generation, directory, "generation_config.json")
        try save(cfg, directory, "config.json")
        return GGUFImportSummary(
            tensors: layout.specs.count, parameters: layout.totalCount, sourceTypes: types,
            warnings: warnings)
    }

    private func save(_ data: Data, _ directory: URL, _ name: String) throws {
        let url = directory.appendingPathComponent(name)
        do { try data.write(to: url, options: .atomic) } catch {
            throw GGUFError(.io, "cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}
