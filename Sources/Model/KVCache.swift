// The KV cache of batched generation: every layer's rotated keys and values for a number of rows (slots),
// laid out [slots, KV, capacity, D] per layer so each head's keys and values are contiguous over positions;
// and the attention of one decode step against it.
import CKernels
import Foundation

/// Rotated keys and values of every layer for `rows` rows and up to `capacity` positions.
final class KVCache {
    let keys: [FloatBuffer], values: [FloatBuffer]
    let rows: Int, kvHeads: Int, capacity: Int, headDim: Int

    init(layers: Int, rows: Int, kvHeads: Int, capacity: Int, headDim: Int) {
        self.rows = rows
        self.kvHeads = kvHeads
        self.capacity = capacity
        self.headDim = headDim
        keys = (0..<layers).map { _ in FloatBuffer(count: rows * kvHeads * capacity * headDim) }
        values = (0..<layers).map { _ in FloatBuffer(count: rows * kvHeads * capacity * headDim) }
    }

    /// Offset of (row, kv head, position) in a layer's buffer.
    @inline(__always) func offset(row: Int, head: Int, position: Int) -> Int {
        ((row * kvHeads + head) * capacity + position) * headDim
    }

    /// Stores the keys and values k, v[n, KV·D] of a step's rows firstRow..<firstRow + n, each in its slot at
    /// its index.
    func store(layer l: Int, _ step: KVCacheStep, rows n: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let kvd = kvHeads * headDim
        for i in 0..<n {
            let slot = step.slots[step.firstRow + i]
            let position = step.index[step.firstRow + i]
            for g in 0..<kvHeads {
                let dst = offset(row: slot, head: g, position: position)
                (keys[l].pointer + dst).update(from: k + i * kvd + g * headDim, count: headDim)
                (values[l].pointer + dst).update(from: v + i * kvd + g * headDim, count: headDim)
            }
        }
    }

    /// Copies `count` token rows of a forward's k, v[N, KV·D], from row `first` on, into row b's positions
    /// `position...` (the prefill: a prompt shared by several rows is computed once).
    func fill(
        layer l: Int, row b: Int, at position: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        from first: Int, count: Int
    ) {
        let kvd = kvHeads * headDim
        for t in 0..<count {
            for g in 0..<kvHeads {
                let src = (first + t) * kvd + g * headDim
                let dst = offset(row: b, head: g, position: position + t)
                (keys[l].pointer + dst).update(from: k + src, count: headDim)
                (values[l].pointer + dst).update(from: v + src, count: headDim)
            }
        }
    }
}

/// One decode step's view of the cache: step row r holds a token of the sequence in cache row `slots[r]`
/// and puts it at index `index[r]`, attending to that slot's positions 0...index[r]. A block of the step's
/// rows starts at `firstRow`.
struct KVCacheStep {
    let cache: KVCache
    let slots: [Int]
    let index: [Int]
    let firstRow: Int
    let heads: Int
    /// Score scratch, `heads × capacity` floats per step row.
    let scores: FloatPointer
}

/// out[n, H·D] for the step's n rows from q[n, H·D]: per (row, head), scores against the row's cached keys,
/// softmax, weighted sum of cached values (`rpp_decode_attention`, the heads that share a key/value head
/// together). With a sliding `window` (0: none) only the keys of
/// the last `window` positions are attended.
func cachedAttentionForward(
    _ out: FloatPointer, _ q: UnsafePointer<Float>, layer l: Int, rows n: Int,
    _ s: KVCacheStep, window: Int = 0
) {
    let c = s.cache
    let D = c.headDim
    let H = s.heads
    let group = H / c.kvHeads
    let qd = H * D
    let scale = 1 / Float(D).squareRoot()
    let kc = c.keys[l].pointer
    let vc = c.values[l].pointer
    for i in 0..<n {
        let r = s.firstRow + i
        let b = s.slots[r]
        let p = s.index[r]
        let s0 = window > 0 ? max(0, p - window + 1) : 0
        for g in 0..<c.kvHeads {
            let h = g * group
            rpp_decode_attention(
                out + i * qd + h * D, q + i * qd + h * D, kc + c.offset(row: b, head: g, position: 0),
                vc + c.offset(row: b, head: g, position: 0), s0, p, D, group, scale,
                s.scores + (r * H + h) * c.capacity, c.capacity)
        }
    }
}
