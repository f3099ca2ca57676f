// The activation arena: one buffer holding every activation of a forward/backward pass, carved by one
// named table that gives each tensor's size and the field that points to it. The same table lays out a
// decode step's scratch (one block's buffers for the batch's rows).
import Foundation

/// The widths the arena's sizes are made of, for N token rows of a [B, T] batch.
struct ActivationDims {
    let N: Int, C: Int, F: Int, qd: Int, kvd: Int
    /// Heads of q and k, and the rows that keep a per-head q/k norm (N with Qwen3's q_norm/k_norm, else 0).
    let H: Int, KV: Int, normRows: Int
    /// Softmax statistics of one layer: a maximum and an inverse sum per (row, head, query).
    let stats: Int
    /// Rows of the vocabulary chunk the language-model head works through at a time.
    let headChunk: Int

    init(config c: ModelConfig, B: Int, T: Int) {
        N = B * T
        C = c.hiddenSize
        F = c.intermediateSize
        qd = c.numHeads * c.headDim
        kvd = c.numKVHeads * c.headDim
        H = c.numHeads
        KV = c.numKVHeads
        normRows = c.qkNorm ? B * T : 0
        stats = B * c.numHeads * T * 2
        headChunk = max(vocabChunk(N: B * T, V: c.vocabSize), 1)
    }
}

/// One entry of an activation table: a name, the field it fills and its size in floats (immutable, so the
/// tables can be shared constants).
struct ActivationEntry<Owner>: @unchecked Sendable {
    let name: String
    let field: WritableKeyPath<Owner, FloatPointer?>
    /// Used only by the backward: a forward that keeps nothing for one leaves it out.
    let backwardOnly: Bool
    let size: @Sendable (ActivationDims) -> Int

    init(
        name: String, field: WritableKeyPath<Owner, FloatPointer?>, backwardOnly: Bool = false,
        size: @escaping @Sendable (ActivationDims) -> Int
    ) {
        self.name = name
        self.field = field
        self.backwardOnly = backwardOnly
        self.size = size
    }
}

/// Every activation one decoder block keeps for the backward, in arena order. A block's `output` is the
/// next block's `input`: the arena gives each layer an `output` and chains the inputs.
let blockActivations: [ActivationEntry<BlockBuffers>] = [
    .init(name: "ln1", field: \.ln1) { $0.N * $0.C }, .init(name: "rstd1", field: \.rstd1) { $0.N },
    .init(name: "q", field: \.q) { $0.N * $0.qd }, .init(name: "k", field: \.k) { $0.N * $0.kvd },
    .init(name: "v", field: \.v) { $0.N * $0.kvd }, .init(name: "attStats", field: \.attStats) { $0.stats },
    .init(name: "attOut", field: \.attOut) { $0.N * $0.qd }, .init(name: "resMid", field: \.resMid) { $0.N * $0.C },
    .init(name: "ln2", field: \.ln2) { $0.N * $0.C }, .init(name: "rstd2", field: \.rstd2) { $0.N },
    .init(name: "gate", field: \.gate) { $0.N * $0.F }, .init(name: "up", field: \.up) { $0.N * $0.F },
    .init(name: "h", field: \.h) { $0.N * $0.F }, .init(name: "output", field: \.output) { $0.N * $0.C },
    // q and k before the per-head norm, and its 1/rms per (row, head) (Qwen3; empty otherwise).
    .init(name: "qRaw", field: \.qRaw) { $0.normRows * $0.qd },
    .init(name: "kRaw", field: \.kRaw) { $0.normRows * $0.kvd },
    .init(name: "qRstd", field: \.qRstd) { $0.normRows * $0.H },
    .init(name: "kRstd", field: \.kRstd) { $0.normRows * $0.KV },
]

/// The arena's tensors outside the blocks: the embedding output, the final norm and head statistics, and
/// the backward's scratch shared by all layers.
let trunkActivations: [ActivationEntry<Activations>] = [
    .init(name: "embedded", field: \.embedded) { $0.N * $0.C },
    .init(name: "lnf", field: \.lnf) { $0.N * $0.C }, .init(name: "rstdf", field: \.rstdf) { $0.N },
    .init(name: "lse", field: \.lse) { $0.N }, .init(name: "meanZ", field: \.meanZ) { $0.N },
    .init(name: "proj", field: \.proj) { $0.N * $0.C },
    // dX also gathers the scored rows of `sequenceLogProbs`, forward or not.
    .init(name: "dX", field: \.dX) { $0.N * $0.C },
    .init(name: "dLn", field: \.dLn, backwardOnly: true) { $0.N * $0.C },
    .init(name: "dq", field: \.dq, backwardOnly: true) { $0.N * $0.qd },
    .init(name: "dk", field: \.dk, backwardOnly: true) { $0.N * $0.kvd },
    .init(name: "dv", field: \.dv, backwardOnly: true) { $0.N * $0.kvd },
    .init(name: "dAtt", field: \.dAtt, backwardOnly: true) { $0.N * $0.qd },
    .init(name: "dGate", field: \.dGate, backwardOnly: true) { $0.N * $0.F },
    .init(name: "dUp", field: \.dUp, backwardOnly: true) { $0.N * $0.F },
    .init(name: "dH", field: \.dH, backwardOnly: true) { $0.N * $0.F },
    .init(name: "headScratch", field: \.headScratch) { $0.N * $0.headChunk },
    .init(name: "dqRaw", field: \.dqRaw, backwardOnly: true) { $0.normRows * $0.qd },
    .init(name: "dkRaw", field: \.dkRaw, backwardOnly: true) { $0.normRows * $0.kvd },
]

/// Pointers into the activation arena for one batch shape (B, T).
struct Activations {
    var B = 0, T = 0
    /// Whether every layer's activations are kept for a backward (else see `ActivationArena.layout`).
    var forBackward = true
    /// Each layer's buffers; layer l reads `layers[l].input` and writes `layers[l].output`.
    var layers: [BlockBuffers] = []
    var embedded, lnf, rstdf, lse, meanZ, proj: FloatPointer!
    var dX, dLn, dq, dk, dv, dAtt, dGate, dUp, dH, headScratch: FloatPointer!
    /// Gradients of q and k before the per-head norm (Qwen3).
    var dqRaw, dkRaw: FloatPointer!

    /// The residual stream after the last layer (the input of the final norm).
    var last: FloatPointer { layers.last?.output ?? embedded! }
}

/// Floats an entry takes in the arena: its size rounded up to 16, so each tensor starts 64-byte aligned.
private func aligned(_ n: Int) -> Int { (n + 15) & ~15 }

/// One buffer holding every activation of a forward/backward pass; grows when a larger shape arrives.
///
/// A forward that no backward follows (sampling, reference and reward scoring) keeps far less: every layer's
/// keys and values (sampling reads them back from the arena) and one set of the other block activations that
/// every layer reuses, its output written over its input as in a decode step. For SmolLM2-135M's shape that
/// is about 90 KB a token row instead of about 1 MB.
final class ActivationArena {
    private var buffer = FloatBuffer(count: 0)
    private(set) var acts = Activations()

    /// What the arena holds, in order: the trunk's entries, then (forward-only) one set of block entries that
    /// every layer shares, then each layer's own block entries.
    private struct Plan {
        let trunk: [ActivationEntry<Activations>]
        let shared: [ActivationEntry<BlockBuffers>]
        let perLayer: [ActivationEntry<BlockBuffers>]

        init(forBackward: Bool) {
            // A forward without backward still keeps every layer's keys and values: sampling reads them back.
            let ownKeysAndValues = { (e: ActivationEntry<BlockBuffers>) in e.field == \.k || e.field == \.v }
            trunk = trunkActivations.filter { forBackward || !$0.backwardOnly }
            shared = forBackward ? [] : blockActivations.filter { !ownKeysAndValues($0) }
            perLayer = forBackward ? blockActivations : blockActivations.filter(ownKeysAndValues)
        }

        func floatCount(_ d: ActivationDims, layers: Int) -> Int {
            func total<O>(_ entries: [ActivationEntry<O>]) -> Int { entries.reduce(0) { $0 + aligned($1.size(d)) } }
            return total(trunk) + total(shared) + layers * total(perLayer)
        }
    }

    /// Floats the arena needs for (B, T) under `config`.
    static func floatCount(config c: ModelConfig, B: Int, T: Int, forBackward: Bool = true) -> Int {
        Plan(forBackward: forBackward).floatCount(ActivationDims(config: c, B: B, T: T), layers: c.numLayers)
    }

    /// Lays out the activations for (B, T) and returns them (reallocating only when larger). Without
    /// `forBackward`, only keys and values are each layer's own and the backward-only scratch is absent.
    func layout(config c: ModelConfig, B: Int, T: Int, forBackward: Bool = true) -> Activations {
        if acts.B == B && acts.T == T && acts.forBackward == forBackward { return acts }
        let plan = Plan(forBackward: forBackward)
        let d = ActivationDims(config: c, B: B, T: T)
        let total = plan.floatCount(d, layers: c.numLayers)
        if buffer.count < total { buffer = FloatBuffer(count: total, lazy: true) }
        var off = 0
        func next(_ size: Int) -> FloatPointer {
            defer { off += aligned(size) }
            return buffer.pointer + off
        }
        var a = Activations()
        a.B = B
        a.T = T
        a.forBackward = forBackward
        for e in plan.trunk { a[keyPath: e.field] = next(e.size(d)) }
        var shared = BlockBuffers()
        for e in plan.shared { shared[keyPath: e.field] = next(e.size(d)) }
        var input = a.embedded!
        for _ in 0..<c.numLayers {
            var b = shared
            for e in plan.perLayer { b[keyPath: e.field] = next(e.size(d)) }
            b.input = input
            b.proj = a.proj
            input = b.output
            a.layers.append(b)
        }
        acts = a
        return a
    }
}

extension BlockBuffers {
    /// One block's buffers for `rows` token rows in one allocation laid out by `blockActivations` (a decode
    /// step's scratch; `input` and `output` are the same residual buffer). Keep `storage` alive while in use.
    static func scratch(config c: ModelConfig, rows: Int) -> (buffers: BlockBuffers, storage: FloatBuffer) {
        let d = ActivationDims(config: c, B: rows, T: 1)
        let sizes = blockActivations.map { aligned($0.size(d)) }
        let storage = FloatBuffer(count: sizes.reduce(0, +) + aligned(rows * c.hiddenSize))
        var b = BlockBuffers()
        var off = 0
        for (e, size) in zip(blockActivations, sizes) {
            b[keyPath: e.field] = storage.pointer + off
            off += size
        }
        b.input = b.output
        b.proj = storage.pointer + off
        return (b, storage)
    }

    /// These buffers moved on by `first` token rows (a block of a decode step's rows; `perRow` are the
    /// dimensions of one row).
    func offset(rows first: Int, perRow d: ActivationDims) -> BlockBuffers {
        var b = self
        for e in blockActivations { b[keyPath: e.field] = self[keyPath: e.field]! + first * e.size(d) }
        b.input = b.output
        b.proj = proj + first * d.C
        return b
    }
}
