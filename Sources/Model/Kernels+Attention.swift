// Rotary position embeddings and causal grouped-query attention.
//
// RoPE (Hugging Face "rotate_half" convention), per token n at position pos[n], per head, i < D/2:
//   y[i]       = x[i] cos(pos θ_i) − x[i + D/2] sin(pos θ_i)
//   y[i + D/2] = x[i + D/2] cos(pos θ_i) + x[i] sin(pos θ_i),   θ_i = theta^(−2i/D)
// The backward is the rotation by the opposite angle.
//
// Attention, q[B, T, H, D], k/v[B, T, KV, D] (rows of width H·D / KV·D), head h reads kv head h / (H/KV):
//   P[b, h] = causal_softmax(q_bh · k_bg^T / sqrt(D))     [B, H, T, T], saved for the backward
//   out[b, t, h, :] = P[b, h] · v_bg                      [B, T, H·D]
// Every product is a cblas_sgemm with leading dimensions that stride over heads; work is split over
// (batch, kv-head) pairs so the accumulation into dk/dv never races.
import Foundation

/// cos/sin of position × inverse frequency, [maxPos, D/2] each, computed as transformers does (float32).
public final class RopeTable: @unchecked Sendable {
    let cos: FloatBuffer, sin: FloatBuffer
    let half: Int, maxPos: Int

    init(headDim: Int, maxPos: Int, theta: Float) {
        half = headDim / 2
        self.maxPos = maxPos
        cos = FloatBuffer(count: maxPos * half); sin = FloatBuffer(count: maxPos * half)
        for i in 0..<half {
            let invFreq: Float = 1 / powf(theta, Float(2 * i) / Float(headDim))
            for p in 0..<maxPos {
                let angle = Float(p) * invFreq
                cos.pointer[p * half + i] = Float(Foundation.cos(Double(angle)))
                sin.pointer[p * half + i] = Float(Foundation.sin(Double(angle)))
            }
        }
    }
}

/// Rotates every head of x[N, nHeads·D] in place; token n sits at position pos[n]. `inverse` rotates back (backward).
func ropeApply(_ x: UnsafeMutablePointer<Float>, _ pos: UnsafePointer<Int32>, _ table: RopeTable,
               N: Int, nHeads: Int, inverse: Bool) {
    let half = table.half, D = 2 * half, width = nHeads * D
    let sgn: Float = inverse ? -1 : 1
    Parallel.ranges(N, minChunk: 64) { r in
        for n in r {
            let c = table.cos.pointer + Int(pos[n]) * half, s = table.sin.pointer + Int(pos[n]) * half
            for h in 0..<nHeads {
                let v = x + n * width + h * D
                for i in 0..<half {
                    let a = v[i], b = v[i + half], sn = sgn * s[i]
                    v[i] = a * c[i] - b * sn
                    v[i + half] = b * c[i] + a * sn
                }
            }
        }
    }
}

/// Shapes of one attention call.
struct AttentionShape {
    let B: Int, T: Int, H: Int, KV: Int, D: Int
    var qd: Int { H * D }
    var kvd: Int { KV * D }
    var group: Int { H / KV }
}

/// out[B, T, H·D] and probabilities P[B, H, T, T] from q[B, T, H·D], k, v[B, T, KV·D].
func attentionForward(_ out: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                      _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                      _ s: AttentionShape) {
    let T = s.T, D = s.D, scale = 1 / Float(D).squareRoot()
    Parallel.forEach(s.B * s.KV) { job in
        let b = job / s.KV, g = job % s.KV
        let kb = k + b * T * s.kvd + g * D, vb = v + b * T * s.kvd + g * D
        for h in g * s.group..<(g + 1) * s.group {
            let qbh = q + b * T * s.qd + h * D
            let P = probs + (b * s.H + h) * T * T
            sgemm(transA: false, transB: true, M: T, N: T, K: D, alpha: scale, A: qbh, lda: s.qd, B: kb, ldb: s.kvd,
                  beta: 0, C: P, ldc: T, parallel: false)
            for t in 0..<T {
                let row = P + t * T
                var m = -Float.infinity
                for j in 0...t { m = max(m, row[j]) }
                var sum: Float = 0
                for j in 0...t { let e = expf(row[j] - m); row[j] = e; sum += e }
                let inv = 1 / sum
                for j in 0...t { row[j] *= inv }
                for j in (t + 1)..<T { row[j] = 0 }
            }
            sgemm(transA: false, transB: false, M: T, N: D, K: T, alpha: 1, A: P, lda: T, B: vb, ldb: s.kvd,
                  beta: 0, C: out + b * T * s.qd + h * D, ldc: s.qd, parallel: false)
        }
    }
}

/// dq[B, T, H·D] (overwritten), dk, dv[B, T, KV·D] (overwritten) from dout; `scratch` holds B·KV·T·T floats.
func attentionBackward(_ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>, _ dv: UnsafeMutablePointer<Float>,
                       _ scratch: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ probs: UnsafePointer<Float>,
                       _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ s: AttentionShape) {
    let T = s.T, D = s.D, scale = 1 / Float(D).squareRoot()
    Parallel.forEach(s.B * s.KV) { job in
        let b = job / s.KV, g = job % s.KV
        let kb = k + b * T * s.kvd + g * D, vb = v + b * T * s.kvd + g * D
        let dkb = dk + b * T * s.kvd + g * D, dvb = dv + b * T * s.kvd + g * D
        let dP = scratch + job * T * T
        for t in 0..<T { (dkb + t * s.kvd).update(repeating: 0, count: D); (dvb + t * s.kvd).update(repeating: 0, count: D) }
        for h in g * s.group..<(g + 1) * s.group {
            let qbh = q + b * T * s.qd + h * D, dqbh = dq + b * T * s.qd + h * D
            let dob = dout + b * T * s.qd + h * D
            let P = probs + (b * s.H + h) * T * T
            // dP = dO · V^T ; dV += P^T · dO
            sgemm(transA: false, transB: true, M: T, N: T, K: D, alpha: 1, A: dob, lda: s.qd, B: vb, ldb: s.kvd,
                  beta: 0, C: dP, ldc: T, parallel: false)
            sgemm(transA: true, transB: false, M: T, N: D, K: T, alpha: 1, A: P, lda: T, B: dob, ldb: s.qd,
                  beta: 1, C: dvb, ldc: s.kvd, parallel: false)
            // dS = P ⊙ (dP − Σ_j P dP), zero above the diagonal because P is.
            for t in 0..<T {
                let p = P + t * T, d = dP + t * T
                var dot: Float = 0
                for j in 0...t { dot += p[j] * d[j] }
                for j in 0...t { d[j] = p[j] * (d[j] - dot) }
                for j in (t + 1)..<T { d[j] = 0 }
            }
            // dQ = scale · dS · K ; dK += scale · dS^T · Q
            sgemm(transA: false, transB: false, M: T, N: D, K: T, alpha: scale, A: dP, lda: T, B: kb, ldb: s.kvd,
                  beta: 0, C: dqbh, ldc: s.qd, parallel: false)
            sgemm(transA: true, transB: false, M: T, N: D, K: T, alpha: scale, A: dP, lda: T, B: qbh, ldb: s.qd,
                  beta: 1, C: dkb, ldc: s.kvd, parallel: false)
        }
    }
}
