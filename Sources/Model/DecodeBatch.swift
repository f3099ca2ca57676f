// The rows of a generation that decode together: which row holds each slot of the KV cache, where its next
// token goes, its next token and where its logits are. Rows leave when they stop and waiting rows take
// their slots (continuous batching); a step runs only the rows that need new logits.
import Foundation

struct DecodeBatch {
    let model: Transformer
    /// Each distinct prompt's token rows in the prefill forward (still in the model's arena).
    let prompts: [(offset: Int, length: Int)]
    let cache: KVCache
    /// The row holding each slot, or -1.
    private(set) var row: [Int]
    /// Cache index of each slot's next token (its prompt starts at index 0, so this is also its position).
    private var index: [Int]
    /// The token each slot feeds into the next step.
    private var next: [Int32]
    /// Where each slot's logits are when it has them (nil: it needs a step, or the slot is free).
    private var ready: [UnsafePointer<Float>?]
    private let block: BlockBuffers, storage: FloatBuffer, scratch: FloatBuffer
    private let ln: FloatPointer, rstd: FloatPointer, stepLogits: FloatPointer, admitLogits: FloatPointer
    private let scores: FloatPointer

    init(model: Transformer, prompts: [(offset: Int, length: Int)], rows: Int, slots: Int, capacity: Int) {
        let c = model.config
        let C = c.hiddenSize
        let V = c.vocabSize
        self.model = model
        self.prompts = prompts
        cache = KVCache(
            layers: c.numLayers, rows: slots, kvHeads: c.numKVHeads, capacity: capacity, headDim: c.headDim,
            low: model.precision == .bf16)
        row = [Int](repeating: -1, count: slots)
        index = [Int](repeating: 0, count: slots)
        next = [Int32](repeating: 0, count: slots)
        ready = [UnsafePointer<Float>?](repeating: nil, count: slots)
        (block, storage) = BlockBuffers.scratch(config: c, rows: slots)
        scratch = FloatBuffer(count: slots * (C + 1 + 2 * V + c.numHeads * capacity))
        ln = scratch.pointer
        rstd = ln + slots * C
        stepLogits = rstd + slots
        admitLogits = stepLogits + slots * V
        scores = admitLogits + slots * V
    }

    var hasActiveRows: Bool { row.contains { $0 >= 0 } }

    func freeSlot() -> Int? { row.firstIndex(of: -1) }

    /// Slots whose logits are ready to sample, in slot order.
    func slotsWithLogits() -> [Int] { ready.indices.filter { ready[$0] != nil } }

    func logits(_ slot: Int) -> UnsafePointer<Float> { ready[slot]! }

    mutating func occupy(_ slot: Int, row r: Int) { row[slot] = r }

    mutating func free(_ slot: Int) {
        row[slot] = -1
        ready[slot] = nil
    }

    /// The slot's sampled token goes into the next step.
    mutating func feed(_ slot: Int, token: Int32) {
        next[slot] = token
        ready[slot] = nil
    }

    /// Copies the prompts' keys and values into the newly occupied slots and computes the logits of each
    /// prompt's last position.
    mutating func prefillLogits(_ admitted: [(slot: Int, prompt: Int)]) {
        if admitted.isEmpty { return }
        let m = model
        let c = m.config
        let C = c.hiddenSize
        let V = c.vocabSize
        for (j, a) in admitted.enumerated() {
            let p = prompts[a.prompt]
            for l in 0..<c.numLayers {
                cache.fill(
                    layer: l, row: a.slot, at: 0, k: m.acts.layers[l].k, v: m.acts.layers[l].v,
                    from: p.offset, count: p.length)
            }
            index[a.slot] = p.length
            (ln + j * C).update(from: m.acts.lnf + (p.offset + p.length - 1) * C, count: C)
            ready[a.slot] = UnsafePointer(admitLogits + j * V)
        }
        matmulForward(admitLogits, ln, m.matrix(m.layout.lmHead), nil, N: admitted.count, C: C, OC: V)
    }

    /// Pushes the fed token of every active slot without logits through the decoder blocks; those slots then
    /// have logits. Rows are independent, so each core takes a block of rows through the whole step.
    mutating func step() {
        let slots = row.indices.filter { row[$0] >= 0 && ready[$0] == nil }
        if slots.isEmpty { return }
        let m = model
        let c = m.config
        let C = c.hiddenSize
        let V = c.vocabSize
        let P = m.vectors
        let idx = slots.map { index[$0] }
        let tokens = slots.map { next[$0] }
        let positions = idx.map { Int32($0) }
        let perRow = ActivationDims(config: c, B: 1, T: 1)
        let (block, cache, ln, rstd, logits, scores) = (block, cache, ln, rstd, stepLogits, scores)
        tokens.withUnsafeBufferPointer { tok in
            positions.withUnsafeBufferPointer { pos in
                Parallel.ranges(slots.count, minChunk: decodeRowsPerCore) { r in
                    let n = r.count
                    let lo = r.lowerBound
                    let b = block.offset(rows: lo, perRow: perRow)
                    let view = KVCacheStep(
                        cache: cache, slots: slots, index: idx, firstRow: lo, heads: c.numHeads, scores: scores)
                    embeddingForward(b.input, tok.baseAddress! + lo, m.matrix(m.layout.embed), N: n, C: C)
                    for l in 0..<c.numLayers {
                        m.decoderBlock(l, b, rows: n, positions: pos.baseAddress! + lo, attention: .cached(view))
                    }
                    rmsnormForward(
                        ln + lo * C, rstd + lo, b.output, P + m.layout.finalNorm, N: n, C: C, eps: c.rmsNormEps)
                    matmulForward(logits + lo * V, ln + lo * C, m.matrix(m.layout.lmHead), nil, N: n, C: C, OC: V)
                }
            }
        }
        for (i, slot) in slots.enumerated() {
            ready[slot] = UnsafePointer(logits + i * V)
            index[slot] += 1
        }
    }
}
