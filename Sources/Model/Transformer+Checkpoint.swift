// Checkpoints: a directory with config.json and model.safetensors using the Hugging Face tensor names
// of LlamaForCausalLM / Qwen2ForCausalLM (so transformers loads what rpp saves and the reverse), plus
// optimizer.safetensors (AdamW moments) and trainer_state.json for exact resume.
import Foundation

extension Transformer {
    /// Loads config.json and the weights from `directory`: model.safetensors, or the shards listed by
    /// model.safetensors.index.json; F32, BF16 and F16 tensors are read as Float32.
    public static func load(directory: URL) throws -> Transformer {
        let cfgURL = directory.appendingPathComponent("config.json")
        // At most one byte over the 1 MiB a config.json may have, so no huge file or device is read whole.
        guard let handle = try? FileHandle(forReadingFrom: cfgURL),
              let cfgData = try? handle.read(upToCount: (1 << 20) + 1) ?? Data() else {
            throw ModelError.io("cannot read \(cfgURL.path)")
        }
        try? handle.close()
        let config = try ModelConfig(jsonData: cfgData, source: cfgURL.path)
        let model: Transformer
        do { model = try Transformer(config: config) } catch ModelError.invalidConfig(let message) {
            throw ModelError.invalidConfig("\(cfgURL.path): \(message)")
        }
        try model.loadWeights(from: try SafetensorsCheckpoint(directory: directory))
        return model
    }

    /// Copies every parameter from `file`, checking names, shapes and dtypes (see the checkpoint variant).
    public func loadWeights(from file: SafetensorsFile) throws {
        try loadWeights(from: try SafetensorsCheckpoint(files: [file]))
    }

    /// Copies every parameter from `checkpoint`, checking names, shapes and dtypes. Tensors the model does not
    /// have are an error, except lm_head.weight of a tied model and rotary inv_freq buffers.
    public func loadWeights(from checkpoint: SafetensorsCheckpoint) throws {
        for s in layout.specs {
            guard let e = checkpoint.entry(s.name) else { throw ModelError.missingTensor(s.name) }
            guard ["F32", "BF16", "F16"].contains(e.dtype) else { throw ModelError.unsupportedDType(tensor: s.name, dtype: e.dtype) }
            let shape = e.shape
            // A scalar head may be stored as [C] or [1, C].
            let ok = shape == s.shape || (s.name == "score.weight" && shape == [s.shape[1]])
            guard ok else { throw ModelError.shapeMismatch(tensor: s.name, expected: s.shape, found: shape) }
            try checkpoint.read(s.name, into: params.pointer + s.offset)
            try Self.requireFinite(params.pointer + s.offset, count: s.count, tensor: s.name,
                                   source: checkpoint.source(of: s.name))
        }
        let known = Set(layout.specs.map(\.name))
        for name in checkpoint.entries.keys.sorted() where !known.contains(name) {
            if name.hasSuffix("rotary_emb.inv_freq") || (name == "lm_head.weight" && config.tieWordEmbeddings) { continue }
            let c = config
            throw ModelError.invalidConfig(
                "checkpoint has tensor \(name) that this config (\(c.modelType), attention bias \(c.attentionBias), "
                    + "o_proj bias \(c.attentionOutputBias), mlp bias \(c.mlpBias), q/k norm \(c.qkNorm), "
                    + "tied \(c.tieWordEmbeddings)) does not")
        }
    }

    /// Writes config.json and model.safetensors (F32) into `directory`, creating it.
    public func save(directory: URL) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ModelError.io("cannot create \(directory.path): \(ioReason(error))")
        }
        let tensors = layout.specs.map { s in
            (name: s.name, shape: s.shape, values: UnsafeBufferPointer(start: params.pointer + s.offset, count: s.count))
        }
        try write(try config.jsonData(), to: directory.appendingPathComponent("config.json"))
        try write(try SafetensorsFile.serialize(tensors), to: directory.appendingPathComponent("model.safetensors"))
    }

    /// Saves the AdamW moments (optimizer.safetensors) and step plus `extra` state (trainer_state.json).
    public func saveTrainingState(_ opt: AdamW, extra: [String: String] = [:], directory: URL) throws {
        let m = UnsafeBufferPointer(start: opt.m.pointer, count: opt.m.count)
        let v = UnsafeBufferPointer(start: opt.v.pointer, count: opt.v.count)
        try write(try SafetensorsFile.serialize([("adam.m", [m.count], m), ("adam.v", [v.count], v)]),
                  to: directory.appendingPathComponent("optimizer.safetensors"))
        var state: [String: Any] = ["step": opt.step, "lr": Double(opt.schedule.peak), "warmup": opt.schedule.warmupSteps,
                                    "beta1": Double(opt.beta1), "beta2": Double(opt.beta2), "eps": Double(opt.eps),
                                    "weight_decay": Double(opt.weightDecay), "min_ratio": Double(opt.schedule.minRatio)]
        if let c = opt.clipNorm { state["clip"] = Double(c) }
        if let t = opt.schedule.cosineTotalSteps { state["cosine_total_steps"] = t }
        state["extra"] = extra
        try write(try JSONSerialization.data(withJSONObject: state, options: [.prettyPrinted, .sortedKeys]),
                  to: directory.appendingPathComponent("trainer_state.json"))
    }

    /// Restores AdamW moments and step saved by `saveTrainingState`; returns the `extra` state.
    @discardableResult
    public func loadTrainingState(_ opt: AdamW, directory: URL) throws -> [String: String] {
        let f = try SafetensorsFile(contentsOf: directory.appendingPathComponent("optimizer.safetensors"))
        for (name, buf) in [("adam.m", opt.m), ("adam.v", opt.v)] {
            guard let e = f.entries[name] else { throw ModelError.missingTensor(name) }
            guard e.dtype == "F32" else { throw ModelError.unsupportedDType(tensor: name, dtype: e.dtype) }
            guard e.shape == [buf.count] else { throw ModelError.shapeMismatch(tensor: name, expected: [buf.count], found: e.shape) }
            try f.read(name, into: buf.pointer)
            try Self.requireFinite(buf.pointer, count: buf.count, tensor: name, source: f.source)
        }
        let url = directory.appendingPathComponent("trainer_state.json")
        guard let d = try? Data(contentsOf: url), let s = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any],
              let step = s["step"] as? Int else { throw ModelError.badHeader("trainer_state.json is missing or malformed") }
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
