// Output heads.
//
// Language-model head, in vocabulary chunks (never N × V floats at once):
//   z[n, v]   = (x[n, :] · W[v, :]) / τ                     x[N, C] final normed hidden, W[V, C]
//   logp[n]   = z[n, y_n] − logsumexp_v z[n, v]
//   ent[n]    = logsumexp z[n] − Σ_v p[n, v] z[n, v]         (entropy of softmax(z[n]))
// Backward, given g[n] = dL/dlogp[n] and e[n] = dL/dent[n]:
//   dz[n, v] = g (δ(v, y) − p) − e p (z − E_p[z]);  dlogits = dz / τ;  dx += dlogits · W, dW += dlogitsᵀ · x
// Chunks of `chunk` vocabulary rows are recomputed in the backward.
//
// Rows scored by the language-model head can be gathered into a compact block and their gradient
// scattered back (gatherRows, scatterRows).
//
// Scalar head: value[n] = x[n, :] · w[C];  dx[n, :] += dvalue[n] w,  dw += Σ_n dvalue[n] x[n, :].
import CKernels
import Foundation

/// Vocabulary rows per chunk so that the chunk of logits stays near `budget` floats.
@inline(__always) func vocabChunk(N: Int, V: Int, budget: Int = 1 << 21) -> Int {
    max(1, min(V, budget / max(N, 1)))
}

/// Chunked log-probs of `targets` and (optionally) entropies; saves lse[N] and meanZ[N] for the backward.
func logprobForward(
    _ logp: UnsafeMutablePointer<Float>, _ entropy: UnsafeMutablePointer<Float>?,
    _ lse: UnsafeMutablePointer<Float>, _ meanZ: UnsafeMutablePointer<Float>,
    _ x: UnsafePointer<Float>, _ W: MatrixOperand, _ targets: UnsafePointer<Int32>,
    _ scratch: UnsafeMutablePointer<Float>, N: Int, C: Int, V: Int, temperature: Float, chunkRows: Int = 0
) {
    let chunk = chunkRows > 0 ? chunkRows : vocabChunk(N: N, V: V)
    // x rounded to bf16 once for every chunk's product, when those take bf16 operands.
    let xRounded = roundedInput(x, rows: N, cols: C, for: W)
    let m = UnsafeMutablePointer<Float>.allocate(capacity: 3 * N)
    defer { m.deallocate() }
    let sum = m + N
    let wsum = m + 2 * N
    for n in 0..<N {
        m[n] = -.infinity
        sum[n] = 0
        wsum[n] = 0
        logp[n] = 0
    }
    var v0 = 0
    while v0 < V {
        let vc = min(chunk, V - v0)
        gemm(
            transB: true, M: N, N: vc, K: C, alpha: 1 / temperature, A: x, lda: C,
            B: W.advanced(by: v0 * C), ldb: C, beta: 0, C: scratch, ldc: vc, roundedA: xRounded)
        Parallel.ranges(N, minChunk: 16) { r in
            for n in r {
                let z = scratch + n * vc
                let cm = max(m[n], vmax(z, vc))
                let rescale = m[n] == -.infinity ? 0 : expf(m[n] - cm)
                let (s, ws) = expShiftedSums(z, count: vc, shift: cm)
                m[n] = cm
                sum[n] = sum[n] * rescale + s
                wsum[n] = wsum[n] * rescale + ws
                let y = Int(targets[n]) - v0
                if y >= 0 && y < vc { logp[n] = z[y] }
            }
        }
        v0 += vc
    }
    for n in 0..<N {
        let l = m[n] + logf(sum[n])
        lse[n] = l
        meanZ[n] = wsum[n] / sum[n]
        logp[n] -= l
        if let entropy { entropy[n] = l - meanZ[n] }
    }
}

/// dx[N, C] (overwritten) and dW[V, C] (+=) from per-token dL/dlogp and dL/dentropy (either may be nil).
func logprobBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dW: UnsafeMutablePointer<Float>,
    _ dlogp: UnsafePointer<Float>?, _ dentropy: UnsafePointer<Float>?,
    _ lse: UnsafePointer<Float>, _ meanZ: UnsafePointer<Float>,
    _ x: UnsafePointer<Float>, _ W: MatrixOperand, _ targets: UnsafePointer<Int32>,
    _ scratch: UnsafeMutablePointer<Float>, N: Int, C: Int, V: Int, temperature: Float, chunkRows: Int = 0
) {
    let chunk = chunkRows > 0 ? chunkRows : vocabChunk(N: N, V: V)
    let invT = 1 / temperature
    // x rounded to bf16 once for every chunk's products and weight gradients, when those take bf16 operands.
    let xRounded = roundedInput(x, rows: N, cols: C, for: W)
    let xForGradient = xRounded ?? roundedGradientInput(x, rows: N, cols: C, for: W)
    var v0 = 0
    while v0 < V {
        let vc = min(chunk, V - v0)
        gemm(
            transB: true, M: N, N: vc, K: C, alpha: invT, A: x, lda: C,
            B: W.advanced(by: v0 * C), ldb: C, beta: 0, C: scratch, ldc: vc, roundedA: xRounded)
        Parallel.ranges(N, minChunk: 16) { r in
            for n in r {
                let z = scratch + n * vc
                let g = dlogp?[n] ?? 0
                rpp_logit_gradient(z, vc, lse[n], g, dentropy?[n] ?? 0, meanZ[n], invT)
                let y = Int(targets[n]) - v0
                if y >= 0 && y < vc { z[y] += g * invT }
            }
        }
        // The chunk's logit gradients, rounded once for both of their products when those take bf16 operands.
        let chunkW = W.advanced(by: v0 * C)
        let dz =
            chunkW.roundsA(rows: N, K: vc, transB: false) || chunkW.hasBF16WeightGradient
            ? RoundedMatrix(scratch, rows: N, cols: vc) : nil
        gemm(
            transB: false, M: N, N: C, K: vc, alpha: 1, A: scratch, lda: vc, B: chunkW, ldb: C,
            beta: v0 == 0 ? 0 : 1, C: dx, ldc: C, roundedA: dz)
        weightGradient(
            dW + v0 * C, dout: scratch, inp: x, roundedDout: dz, roundedInp: xForGradient, N: N, OC: vc, C: C,
            weight: W)
        v0 += vc
    }
}

/// value[n] = x[n, :] · w.
func scalarHeadForward(
    _ value: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, N: Int, C: Int
) {
    for n in 0..<N {
        var s: Float = 0
        let xr = x + n * C
        for i in 0..<C { s += xr[i] * w[i] }
        value[n] = s
    }
}

/// dx[N, C] (overwritten) = dvalue[n] · w; dw[C] += Σ_n dvalue[n] x[n, :].
func scalarHeadBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>, _ dvalue: UnsafePointer<Float>,
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, N: Int, C: Int
) {
    for n in 0..<N {
        let d = dvalue[n]
        let xr = x + n * C
        let o = dx + n * C
        for i in 0..<C {
            o[i] = d * w[i]
            dw[i] += d * xr[i]
        }
    }
}

/// out[i, :] = x[index[i], :] for every i: the compact block of the rows the head scores.
func gatherRows(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ index: [Int], C: Int) {
    for (i, n) in index.enumerated() { (out + i * C).update(from: x + n * C, count: C) }
}

/// out[index[i], :] = x[i, :] for every i (the other rows of out are left as they are).
func scatterRows(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ index: [Int], C: Int) {
    for (i, n) in index.enumerated() { (out + n * C).update(from: x + i * C, count: C) }
}
