// The KV cache of batched generation: every layer's rotated keys and values for a number of rows (slots),
// laid out [slots, KV, capacity, D] per layer so each head's keys and values are contiguous over positions;
// and the attention of one decode step against it. A bf16 model keeps them in bfloat16: half the memory, and
// half the bytes a decode step's attention reads.
import CKernels
import CSupport
import Foundation

/// Rotated keys and values of every layer for `rows` rows and up to `capacity` positions.
final class KVCache {
    /// bfloat16 (rounded to nearest even) instead of float32.
    let low: Bool
    /// Each layer's keys and values, `low` deciding the element type.
    let keys: [UnsafeMutableRawPointer], values: [UnsafeMutableRawPointer]
    let rows: Int, kvHeads: Int, capacity: Int, headDim: Int
    private let storage: [PageMapping]

    init(layers: Int, rows: Int, kvHeads: Int, capacity: Int, headDim: Int, low: Bool = false) {
        self.rows = rows
        self.kvHeads = kvHeads
        self.capacity = capacity
        self.headDim = headDim
        self.low = low
        let bytes = rows * kvHeads * capacity * headDim * (low ? 2 : 4)
        storage = (0..<(2 * layers)).map { _ in PageMapping(bytes: max(bytes, 4), lazy: false) }
        keys = storage[..<layers].map(\.base)
        values = storage[layers...].map(\.base)
    }

    /// Offset of (row, kv head, position) in a layer's buffer, in elements.
    @inline(__always) func offset(row: Int, head: Int, position: Int) -> Int {
        ((row * kvHeads + head) * capacity + position) * headDim
    }

    /// Writes one head's key and value (headDim floats each) at element offset `dst` of layer l.
    @inline(__always) private func put(layer l: Int, at dst: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        if low {
            rpp_f32_to_bf16(k, keys[l].assumingMemoryBound(to: UInt16.self) + dst, headDim)
            rpp_f32_to_bf16(v, values[l].assumingMemoryBound(to: UInt16.self) + dst, headDim)
        } else {
            (keys[l].assumingMemoryBound(to: Float.self) + dst).update(from: k, count: headDim)
            (values[l].assumingMemoryBound(to: Float.self) + dst).update(from: v, count: headDim)
        }
    }

    /// Stores the keys and values k, v[n, KV·D] of a step's rows firstRow..<firstRow + n, each in its slot at
    /// its index.
    func store(layer l: Int, _ step: KVCacheStep, rows n: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let kvd = kvHeads * headDim
        for i in 0..<n {
            let slot = step.slots[step.firstRow + i]
            let position = step.index[step.firstRow + i]
            for g in 0..<kvHeads {
                put(
                    layer: l, at: offset(row: slot, head: g, position: position), k: k + i * kvd + g * headDim,
                    v: v + i * kvd + g * headDim)
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
                put(layer: l, at: offset(row: b, head: g, position: position + t), k: k + src, v: v + src)
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
/// together). With a sliding `window` (0: none) only the keys of the last `window` positions are attended.
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
    let kc = c.keys[l]
    let vc = c.values[l]
    for i in 0..<n {
        let r = s.firstRow + i
        let b = s.slots[r]
        let p = s.index[r]
        let s0 = window > 0 ? max(0, p - window + 1) : 0
        for g in 0..<c.kvHeads {
            let h = g * group
            let at = c.offset(row: b, head: g, position: 0)
            let (o, qh, sc) = (out + i * qd + h * D, q + i * qd + h * D, s.scores + (r * H + h) * c.capacity)
            if c.low {
                rpp_decode_attention_bf16(
                    o, qh, kc.assumingMemoryBound(to: UInt16.self) + at, vc.assumingMemoryBound(to: UInt16.self) + at,
                    s0, p, D, group, scale, sc, c.capacity)
            } else {
                rpp_decode_attention(
                    o, qh, kc.assumingMemoryBound(to: Float.self) + at, vc.assumingMemoryBound(to: Float.self) + at,
                    s0, p, D, group, scale, sc, c.capacity)
            }
        }
    }
}
