// Checkpoints: a directory with config.json and model.safetensors using the Hugging Face tensor names
// of LlamaForCausalLM / Qwen2ForCausalLM (so transformers loads what rpp saves and the reverse), plus
// optimizer.safetensors (AdamW moments) and trainer_state.json for exact resume. A model saved with the
// `CheckpointSource` it was loaded with keeps that directory's config.json fields and companion files.
import Foundation

extension Transformer {
    /// Loads config.json and the weights from `directory`: model.safetensors, or the shards listed by
    /// model.safetensors.index.json; F32, BF16 and F16 tensors are read as Float32.
    public static func load(directory: URL) throws -> Transformer {
        try load(directory: directory, companions: false).model
    }

    /// Loads config.json and model.safetensors from `directory`, and returns with the model what the directory
    /// holds besides its weights (config.json as written, companion files), for `save(directory:source:dtype:)`.
    public static func loadCheckpoint(directory: URL) throws -> (model: Transformer, source: CheckpointSource) {
        try load(directory: directory, companions: true)
    }

    private static func load(
        directory: URL,
        companions: Bool
    ) throws -> (model: Transformer, source: CheckpointSource) {
        let cfgURL = directory.appendingPathComponent("config.json")
        // At most one byte over the 1 MiB a config.json may have, so no huge file or device is read whole.
        guard let handle = try? FileHandle(forReadingFrom: cfgURL),
            let cfgData = try? handle.read(upToCount: (1 << 20) + 1) ?? Data()
        else {
            throw ModelError.io("cannot read \(cfgURL.path)")
        }
        try? handle.close()
        let config = try ModelConfig(jsonData: cfgData, source: cfgURL.path)
        let source = try CheckpointSource(
            directory: directory, configData: cfgData, modelConfig: config,
            files: companions ? CheckpointFiles.readCompanions(of: directory) : [])
        let model: Transformer
        do { model = try Transformer(config: config) } catch ModelError.invalidConfig(let message) {
            throw ModelError.invalidConfig("\(cfgURL.path): \(message)")
        }
        try model.loadWeights(from: try SafetensorsCheckpoint(directory: directory))
        return (model, source)
    }

    /// Copies every parameter from `file`, checking names, shapes and dtypes (see the checkpoint variant).
    public func loadWeights(from file: SafetensorsFile) throws {
        try loadWeights(from: try SafetensorsCheckpoint(files: [file]))
    }

    /// Copies every parameter from `checkpoint`, checking names, shapes and dtypes. Tensors the model does not
    /// have are an error, except lm_head.weight of a tied model and rotary inv_freq buffers.
    public func loadWeights(from checkpoint: SafetensorsCheckpoint) throws {
        try loadWeights(from: checkpoint, skipping: [])
    }

    /// `loadWeights(from:)` leaving the parameters named in `skipped` as they are (a caller that reads them
    /// itself, such as a classification head wider than one label).
    func loadWeights(from checkpoint: SafetensorsCheckpoint, skipping skipped: Set<String>) throws {
        try requireFloat32("load a checkpoint")
        for s in layout.specs where !skipped.contains(s.name) {
            guard let e = checkpoint.entry(s.name) else { throw ModelError.missingTensor(s.name) }
            guard ["F32", "BF16", "F16"].contains(e.dtype) else {
                throw ModelError.unsupportedDType(tensor: s.name, dtype: e.dtype)
            }
            let shape = e.shape
            // A scalar head may be stored as [C] or [1, C].
            let ok = shape == s.shape || (s.name == "score.weight" && shape == [s.shape[1]])
            guard ok else { throw ModelError.shapeMismatch(tensor: s.name, expected: s.shape, found: shape) }
            try checkpoint.read(s.name, into: params.pointer + s.offset)
            try Self.requireFinite(
                params.pointer + s.offset, count: s.count, tensor: s.name,
                source: checkpoint.source(of: s.name))
        }
        weightsChanged()
        let known = Set(layout.specs.map(\.name))
        for name in checkpoint.entries.keys.sorted() where !known.contains(name) && !skipped.contains(name) {
            if name.hasSuffix("rotary_emb.inv_freq") || (name == "lm_head.weight" && config.tieWordEmbeddings) {
                continue
            }
            let c = config
            throw ModelError.invalidConfig(
                "checkpoint has tensor \(name) that this config (\(c.modelType), attention bias \(c.attentionBias), "
                    + "o_proj bias \(c.attentionOutputBias), mlp bias \(c.mlpBias), q/k norm \(c.qkNorm), "
                    + "tied \(c.tieWordEmbeddings)) does not")
        }
    }

    /// Writes model.safetensors (weights stored as `dtype`) and config.json into `directory`, creating it.
    /// With a `source` (the directory the model was loaded from), config.json keeps every field of the
    /// source's that this model's architecture does not change, and the source's companion files (tokenizer,
    /// chat template, generation config...) are copied; without one, config.json is `ModelConfig.jsonData()`.
    /// config.json is written last, so a directory that has it is complete. Refuses a directory holding a
    /// sharded checkpoint (model.safetensors.index.json), whose shards would shadow or mix with these weights.
    public func save(directory: URL, source: CheckpointSource? = nil, dtype: WeightDType = .f32) throws {
        try requireFloat32("save")
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ModelError.io("cannot create \(directory.path): \(ioReason(error))")
        }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index.path) {
            throw ModelError.io(
                "\(directory.path) holds a sharded checkpoint (\(index.lastPathComponent)): "
                    + "save into an empty directory")
        }
        let tensors = layout.specs.map { s in
            (
                name: s.name, shape: s.shape,
                values: UnsafeBufferPointer(start: params.pointer + s.offset, count: s.count)
            )
        }
        let configData =
            try source.map { try $0.configJSON(for: config, dtype: dtype) }
            ?? CheckpointSource.configJSON(fresh: config, dtype: dtype)
        try write(
            try SafetensorsFile.serialize(tensors, dtype: dtype),
            to: directory.appendingPathComponent("model.safetensors"))
        if let source, !Self.sameDirectory(source.directory, directory) {
            try CheckpointFiles.write(source.files, to: directory)
        }
        try write(configData, to: directory.appendingPathComponent("config.json"))
    }

    /// Throws unless the model holds its float32 parameters (an inference role in bf16 may have given them back).
    func requireFloat32(_ what: String) throws {
        guard holdsFloat32 else {
            throw ModelError.invalidInput(
                "cannot \(what): this model holds only its bf16 copy (usePrecision(.bf16, keepFloat32: false)); "
                    + "take new weights with setWeights, or load and save before giving the float32 ones back")
        }
    }

    /// True when `a` and `b` name the same directory (after symbolic links).
    public static func sameDirectory(_ a: URL, _ b: URL) -> Bool {
        a.standardizedFileURL.resolvingSymlinksInPath().path == b.standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Saves the AdamW moments (optimizer.safetensors) and step plus `extra` state (trainer_state.json).
    public func saveTrainingState(_ opt: AdamW, extra: [String: String] = [:], directory: URL) throws {
        let m = UnsafeBufferPointer(start: opt.m.pointer, count: opt.m.count)
        let v = UnsafeBufferPointer(start: opt.v.pointer, count: opt.v.count)
        try write(
            try SafetensorsFile.serialize([("adam.m", [m.count], m), ("adam.v", [v.count], v)]),
            to: directory.appendingPathComponent("optimizer.safetensors"))
        var state: [String: Any] = [
            "step": opt.step, "lr": Double(opt.schedule.peak), "warmup": opt.schedule.warmupSteps,
            "beta1": Double(opt.beta1), "beta2": Double(opt.beta2), "eps": Double(opt.eps),
            "weight_decay": Double(opt.weightDecay), "min_ratio": Double(opt.schedule.minRatio),
        ]
        if let c = opt.clipNorm { state["clip"] = Double(c) }
        if let t = opt.schedule.cosineTotalSteps { state["cosine_total_steps"] = t }
        state["extra"] = extra
        try write(
            try JSONSerialization.data(withJSONObject: state, options: [.prettyPrinted, .sortedKeys]),
            to: directory.appendingPathComponent("trainer_state.json"))
    }

    /// Restores AdamW moments and step saved by `saveTrainingState`; returns the `extra` state.
    @discardableResult
    public func loadTrainingState(_ opt: AdamW, directory: URL) throws -> [String: String] {
        let f = try SafetensorsFile(contentsOf: directory.appendingPathComponent("optimizer.safetensors"))
        for (name, buf) in [("adam.m", opt.m), ("adam.v", opt.v)] {
            guard let e = f.entries[name] else { throw ModelError.missingTensor(name) }
            guard e.dtype == "F32" else { throw ModelError.unsupportedDType(tensor: name, dtype: e.dtype) }
            guard e.shape == [buf.count] else {
                throw ModelError.shapeMismatch(tensor: name, expected: [buf.count], found: e.shape)
            }
            try f.read(name, into: buf.pointer)
            try Self.requireFinite(buf.pointer, count: buf.count, tensor: name, source: f.source)
        }
        let url = directory.appendingPathComponent("trainer_state.json")
        guard let d = try? Data(contentsOf: url),
            let s = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any],
            let step = s["step"] as? Int
        else { throw ModelError.badHeader("trainer_state.json is missing or malformed") }
        opt.step = step
        return s["extra"] as? [String: String] ?? [:]
    }

    /// Throws `ModelError.nonFinite` naming `tensor` when any of its `count` values is NaN or infinite.
    static func requireFinite(_ values: UnsafePointer<Float>, count: Int, tensor: String, source: String) throws {
        var bad = 0
        for i in 0..<count where !values[i].isFinite { bad += 1 }
        if bad > 0 { throw ModelError.nonFinite(tensor: tensor, count: bad, source: source) }
    }

    private func write(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch {
            throw ModelError.io("cannot write \(url.path): \(ioReason(error))")
        }
    }
}
