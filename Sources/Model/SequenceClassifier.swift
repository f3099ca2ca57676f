// SequenceClassifier: a Hugging Face `...ForSequenceClassification` checkpoint (LlamaForSequenceClassification,
// Qwen2ForSequenceClassification, ...) as transformers computes it: the decoder trunk (tensors under `model.`)
// gives the final normed hidden state of every token, the bias-free `score` layer (score.weight
// [numLabels, C]) maps it to numLabels logits, and a sequence's logits are those at the position
// `ClassifierHead.poolingIndex` picks (its last token that is not the pad token).
//
// Sequences are scored packed one after another (ragged, no padding computed); each attends only to itself,
// so its logits are those transformers gives it alone or in a padded batch with an attention mask.
import Foundation

/// A sequence-classification model loaded from a checkpoint directory. `scores` is thread-safe (calls run one
/// at a time); async code can run it off the cooperative pool through `perform`.
public final class SequenceClassifier: @unchecked Sendable {
    /// The directory the model was loaded from.
    public let directory: URL
    /// The head config.json declares (labels, pad token).
    public let head: ClassifierHead
    /// The decoder trunk. Its own scalar head (`score.weight` [1, C]) holds the first label's row.
    public let trunk: Transformer
    /// score.weight [numLabels, C], row-major.
    let scoreWeight: FloatBuffer
    private let lock = NSLock()

    /// The trunk's architecture.
    public var config: ModelConfig { trunk.config }
    /// Number of logits per sequence.
    public var numLabels: Int { head.numLabels }
    /// The longest sequence scored (max_position_embeddings).
    public var maxTokens: Int { trunk.config.maxPositionEmbeddings }

    /// A classifier from a trunk and the head's weights (`scoreWeight`: numLabels × hidden floats, row-major).
    public init(trunk: Transformer, head: ClassifierHead, scoreWeight: [Float], directory: URL) throws {
        let C = trunk.config.hiddenSize
        guard trunk.config.scalarHead else {
            throw ClassifierError(
                .invalidConfig, directory: directory.path,
                "the trunk must be built with scalarHead (its score.weight slot holds label 0)")
        }
        guard head.numLabels >= 1, scoreWeight.count == head.numLabels * C else {
            throw ClassifierError(
                .invalidCheckpoint, directory: directory.path,
                "score.weight has \(scoreWeight.count) values, expected \(head.numLabels) labels × "
                    + "hidden_size \(C)")
        }
        self.directory = directory
        self.head = head
        self.trunk = trunk
        let buffer = FloatBuffer(count: scoreWeight.count)
        scoreWeight.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: $0.count) }
        self.scoreWeight = buffer
        (trunk.params.pointer + trunk.layout.score).update(from: buffer.pointer, count: C)
    }

    /// Loads `directory`: config.json (a `...ForSequenceClassification` config), model.safetensors or its
    /// shards (F32, BF16 or F16; trunk under `model.`, head `score.weight`). Throws `ClassifierError` naming
    /// the directory: `.notClassifier` for a language model (a `...ForCausalLM` config, or weights with
    /// lm_head.weight and no score.weight), `.invalidCheckpoint` for a missing score.weight or one whose rows
    /// disagree with the labels config.json declares, `.invalidConfig` for a config rpp cannot compute.
    public static func load(directory: URL) throws -> SequenceClassifier {
        let dir = directory.path
        let configURL = directory.appendingPathComponent("config.json")
        guard let handle = try? FileHandle(forReadingFrom: configURL),
            let data = try? handle.read(upToCount: (1 << 20) + 1) ?? Data()
        else {
            throw ClassifierError(
                .invalidConfig, directory: dir,
                "cannot read config.json (give a Hugging Face checkpoint directory)")
        }
        try? handle.close()
        let head = try ClassifierHead(configJSON: data, directory: dir)
        var config: ModelConfig
        do { config = try ModelConfig(jsonData: data, source: "config.json") } catch {
            throw ClassifierError(.invalidConfig, directory: dir, "\(error)")
        }
        config.scalarHead = true
        let checkpoint: SafetensorsCheckpoint
        do { checkpoint = try SafetensorsCheckpoint(directory: directory) } catch {
            throw ClassifierError(.invalidCheckpoint, directory: dir, "\(error)")
        }
        let weight = try readScore(checkpoint, head: head, hidden: config.hiddenSize, directory: dir)
        let trunk: Transformer
        do { trunk = try Transformer(config: config) } catch {
            throw ClassifierError(.invalidConfig, directory: dir, "\(error)")
        }
        do { try trunk.loadWeights(from: checkpoint, skipping: ["score.weight"]) } catch {
            throw ClassifierError(.invalidCheckpoint, directory: dir, "\(error)")
        }
        return try SequenceClassifier(trunk: trunk, head: head, scoreWeight: weight, directory: directory)
    }

    /// score.weight as [numLabels × C] floats, checked against the labels of `head`.
    static func readScore(
        _ checkpoint: SafetensorsCheckpoint, head: ClassifierHead, hidden C: Int,
        directory dir: String
    ) throws -> [Float] {
        let name = "score.weight"
        guard let entry = checkpoint.entry(name) else {
            if checkpoint.entry("lm_head.weight") != nil {
                throw ClassifierError(
                    .notClassifier, directory: dir,
                    "the weights have lm_head.weight and no \(name): this is a language model "
                        + "whose config.json claims a classification head; give the reward model's "
                        + "own checkpoint")
            }
            throw ClassifierError(
                .invalidCheckpoint, directory: dir,
                "the weights have no \(name) (the classification head, [num_labels, hidden_size]): "
                    + "the checkpoint is incomplete or a base model without its head")
        }
        guard ["F32", "BF16", "F16"].contains(entry.dtype) else {
            throw ClassifierError(
                .invalidCheckpoint, directory: dir,
                "\(ModelError.unsupportedDType(tensor: name, dtype: entry.dtype))")
        }
        let shape = entry.shape
        let rows = shape.count == 1 ? 1 : shape.first ?? 0
        guard (shape.count == 2 && shape[1] == C) || shape == [C] else {
            throw ClassifierError(
                .invalidCheckpoint, directory: dir,
                "\(name) has shape \(shape), expected [num_labels, hidden_size \(C)]")
        }
        guard rows == head.numLabels else {
            throw ClassifierError(
                .invalidCheckpoint, directory: dir,
                "\(name) has \(rows) rows (labels) but config.json declares \(head.numLabels) "
                    + "(id2label, else num_labels, else transformers' default of 2): the config does "
                    + "not describe these weights; fix id2label / num_labels")
        }
        var out = [Float](repeating: 0, count: rows * C)
        do {
            try out.withUnsafeMutableBufferPointer { buffer in
                try checkpoint.read(name, into: buffer.baseAddress!)
                try Transformer.requireFinite(
                    buffer.baseAddress!, count: buffer.count, tensor: name,
                    source: checkpoint.source(of: name))
            }
        } catch {
            throw ClassifierError(.invalidCheckpoint, directory: dir, "\(error)")
        }
        return out
    }

    /// The logits (numLabels each) of every sequence, taken at its `ClassifierHead.poolingIndex`: what
    /// transformers' model returns as `logits` for that sequence alone, or as a row of a padded batch with its
    /// attention mask. Each sequence is the tokens its attention mask keeps (no padding), 1 to `maxTokens` long,
    /// with ids in the vocabulary. The sequences run packed in one forward pass; batch them by total tokens.
    public func scores(_ sequences: [[Int32]]) throws -> [[Float]] {
        if sequences.isEmpty { return [] }
        let V = config.vocabSize
        let dir = directory.path
        for (r, s) in sequences.enumerated() {
            guard !s.isEmpty else { throw ClassifierError(.invalidInput, directory: dir, "sequence \(r) is empty") }
            guard s.count <= maxTokens else {
                throw ClassifierError(
                    .invalidInput, directory: dir,
                    "sequence \(r) has \(s.count) tokens, more than max_position_embeddings "
                        + "\(maxTokens): truncate it first")
            }
            if let bad = s.first(where: { $0 < 0 || Int($0) >= V }) {
                throw ClassifierError(
                    .invalidInput, directory: dir,
                    "sequence \(r) holds token id \(bad), outside the vocabulary 0..<\(V): "
                        + "was it tokenised with this model's tokenizer?")
            }
        }
        lock.lock()
        defer { lock.unlock() }
        try trunk.forward(packed: sequences, forBackward: false)
        let C = config.hiddenSize
        let L = numLabels
        let B = sequences.count
        let segments = trunk.attention.segments
        let hidden: UnsafeMutablePointer<Float> = trunk.acts.lnf
        var pooled = [Float](repeating: 0, count: B * C)
        pooled.withUnsafeMutableBufferPointer { p in
            for (b, s) in sequences.enumerated() {
                let row = segments[b].offset + head.poolingIndex(s)
                (p.baseAddress! + b * C).update(from: hidden + row * C, count: C)
            }
        }
        var logits = [Float](repeating: 0, count: B * L)
        pooled.withUnsafeBufferPointer { p in
            logits.withUnsafeMutableBufferPointer { out in
                sgemm(
                    transA: false, transB: true, M: B, N: L, K: C, alpha: 1, A: p.baseAddress!, lda: C,
                    B: scoreWeight.pointer, ldb: C, beta: 0, C: out.baseAddress!, ldc: L, parallel: false)
            }
        }
        return (0..<B).map { Array(logits[$0 * L..<($0 + 1) * L]) }
    }

    /// Bytes of the activations a forward pass over `tokens` packed tokens lays out (the trunk keeps its
    /// largest such buffer).
    public func activationBytes(tokens: Int) -> Int {
        4 * ActivationArena.floatCount(config: config, B: 1, T: max(tokens, 1))
    }

    /// The most packed tokens (at least 1, at most 2^20) whose activations take at most `bytes`.
    public func tokens(withinActivationBytes bytes: Int) -> Int {
        var low = 1
        var high = 1 << 20
        while low < high {
            let mid = (low + high + 1) / 2
            if activationBytes(tokens: mid) <= bytes { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// Runs `body` on the trunk's serial dispatch queue (off Swift's cooperative pool) and returns its result.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (SequenceClassifier) throws -> T) async throws -> T {
        try await trunk.perform { _ in try body(self) }
    }
}
