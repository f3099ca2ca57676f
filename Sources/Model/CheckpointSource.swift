// CheckpointSource: what a checkpoint directory holds besides the weights rpp trains: its config.json as
// written (every field, key order and number literal) and its companion files (tokenizer, chat template,
// generation config, model card). A model saved with its source keeps all of them: config.json changes only
// in the fields the saved architecture changes and in its dtype, and the companion files are copied.
import Foundation

/// The config.json and companion files of the directory a model was loaded from, read when it was loaded (so
/// a later save does not depend on that directory still being there or unchanged).
public struct CheckpointSource: Sendable, Equatable {
    /// The directory the model was loaded from.
    public let directory: URL
    /// Its config.json as written.
    public let config: OrderedJSON
    /// The architecture rpp read from that config.json.
    public let modelConfig: ModelConfig
    /// Its companion files (`CheckpointFiles.isCompanion`), by name, sorted.
    public let files: [CompanionFile]

    /// A source from `directory`'s config.json bytes, the architecture parsed from them and its companion files.
    public init(directory: URL, configData: Data, modelConfig: ModelConfig, files: [CompanionFile] = []) throws {
        let json: OrderedJSON
        do { json = try OrderedJSON(data: configData) } catch {
            throw ModelError.invalidConfig("\(directory.appendingPathComponent("config.json").path): \(error)")
        }
        guard case .object = json else {
            throw ModelError.invalidConfig("\(directory.appendingPathComponent("config.json").path): not a JSON object")
        }
        self.directory = directory
        config = json
        self.modelConfig = modelConfig
        self.files = files.sorted { $0.name < $1.name }
    }

    /// config.json for a model of architecture `config` stored as `dtype`: the source's document, with the
    /// fields whose `ModelConfig.jsonData()` value differs between the source's architecture and `config`
    /// rewritten (or removed), and `dtype` / `torch_dtype` naming `dtype`.
    public func configJSON(for config: ModelConfig, dtype: WeightDType) throws -> Data {
        var out = self.config
        if config != modelConfig {
            let before = try OrderedJSON(data: modelConfig.jsonData())
            let after = try OrderedJSON(data: config.jsonData())
            for key in before.keys + after.keys.filter({ before[$0] == nil }) where before[key] != after[key] {
                if let value = after[key] { out.set(key, value) } else { out.remove(key) }
            }
        }
        Self.setDType(&out, dtype)
        return out.text()
    }

    /// config.json of a model rpp made itself (no source): `ModelConfig.jsonData()`, with its dtype field set
    /// when the weights are not stored as F32.
    public static func configJSON(fresh config: ModelConfig, dtype: WeightDType) throws -> Data {
        let data = try config.jsonData()
        if dtype == .f32 { return data }
        var json = try OrderedJSON(data: data)
        setDType(&json, dtype)
        return json.text()
    }

    /// Sets whichever of `dtype` (transformers 5) and `torch_dtype` (earlier versions) the document has, and
    /// `torch_dtype` when it has neither.
    static func setDType(_ json: inout OrderedJSON, _ dtype: WeightDType) {
        let present = ["dtype", "torch_dtype"].filter { json[$0] != nil }
        for key in present.isEmpty ? ["torch_dtype"] : present { json.set(key, .string(dtype.torchName)) }
    }
}

/// A file that travels with a model from checkpoint to checkpoint.
public struct CompanionFile: Sendable, Equatable {
    /// Its name in the directory.
    public let name: String
    /// Its bytes.
    public let data: Data

    /// A file of `name` holding `data`.
    public init(name: String, data: Data) {
        self.name = name
        self.data = data
    }
}

/// Which files of a checkpoint directory travel with its model when it is saved elsewhere.
public enum CheckpointFiles {
    /// Files rpp writes for its own training and results, never copied from a source.
    public static let rppStateFiles: Set<String> = [
        "optimizer.safetensors", "trainer_state.json", "sft_result.json", "rm_result.json", "reward_stats.json",
    ]

    /// Suffixes of weight files in the formats models are published in (and their shard indexes).
    public static let weightSuffixes = [
        ".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json", ".pt", ".pth", ".ckpt", ".gguf",
        ".h5", ".msgpack", ".onnx", ".npz", ".ot",
    ]

    /// True for a file that describes or accompanies the model (tokenizer files, chat template,
    /// generation_config.json, README, licence...): not config.json (rewritten), not weights, not rpp's training
    /// state, not hidden.
    public static func isCompanion(_ name: String) -> Bool {
        let lower = name.lowercased()
        return !name.hasPrefix(".") && name != "config.json" && !rppStateFiles.contains(name)
            && !weightSuffixes.contains { lower.hasSuffix($0) }
    }

    /// The largest companion file read (64 MiB): far above any tokenizer or chat template.
    public static let maxFileBytes = 64 << 20

    /// Reads the companion files of `directory`: its regular files (symbolic links followed) that
    /// `isCompanion` accepts. Throws `ModelError.io` naming a file that cannot be read or is above `maxFileBytes`.
    public static func readCompanions(of directory: URL) throws -> [CompanionFile] {
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: directory.path) } catch {
            throw ModelError.io("cannot list \(directory.path): \(ioReason(error))")
        }
        var files: [CompanionFile] = []
        for name in names.sorted() where isCompanion(name) {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let attributes = try? fm.attributesOfItem(atPath: url.resolvingSymlinksInPath().path)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
            guard size <= maxFileBytes else {
                throw ModelError.io(
                    "\(url.path) is \(size / 1_000_000) MB; a checkpoint carries files that are not "
                        + "weights only up to \(maxFileBytes >> 20) MiB: move it out of \(directory.path)")
            }
            do { files.append(CompanionFile(name: name, data: try Data(contentsOf: url))) } catch {
                throw ModelError.io("cannot read \(url.path): \(ioReason(error))")
            }
        }
        return files
    }

    /// Writes `files` into `directory` (which exists). A file already there with the same bytes is left alone;
    /// others are written under a temporary name and renamed.
    public static func write(_ files: [CompanionFile], to directory: URL) throws {
        for file in files {
            let url = directory.appendingPathComponent(file.name)
            if let old = try? Data(contentsOf: url, options: .mappedIfSafe), old == file.data { continue }
            do { try file.data.write(to: url, options: .atomic) } catch {
                throw ModelError.io("cannot write \(url.path): \(ioReason(error))")
            }
        }
    }
}
