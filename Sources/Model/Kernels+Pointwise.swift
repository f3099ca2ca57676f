// Row-wise and element-wise kernels: token embedding, RMSNorm, SwiGLU, residual add.
//
// embeddingForward:  out[N, C] = E[tok[n], :]                      backward: dE[tok[n], :] += dout[n, :]
// rmsnormForward:    out[N, C] = x · rstd · w,  rstd[N] = 1/sqrt(mean(x²) + eps)
// swigluForward:     h[N, F] = silu(g) · u,  silu(g) = g · sigmoid(g)
// residualForward:   out[N·C] = a + b
import CKernels
import CSupport
import Foundation

/// out[N, C] = table[tokens[n], :].
func embeddingForward(
    _ out: UnsafeMutablePointer<Float>, _ tokens: UnsafePointer<Int32>,
    _ table: MatrixOperand, N: Int, C: Int
) {
    switch table {
    case .float32(let t): for n in 0..<N { (out + n * C).update(from: t + Int(tokens[n]) * C, count: C) }
    case .bfloat16(let t): for n in 0..<N { rpp_bf16_to_f32(t + Int(tokens[n]) * C, out + n * C, C) }
    }
}

/// dtable[tokens[n], :] += dout[n, :].
func embeddingBackward(
    _ dtable: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
    _ tokens: UnsafePointer<Int32>, N: Int, C: Int
) {
    for n in 0..<N {
        let d = dtable + Int(tokens[n]) * C
        let g = dout + n * C
        for i in 0..<C { d[i] += g[i] }
    }
}

/// out[N, C] = x · rstd · w; saves rstd[N].
func rmsnormForward(
    _ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>,
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, N: Int, C: Int, eps: Float
) {
    Parallel.ranges(N, minChunk: 32) { r in
        for n in r {
            let xr = x + n * C
            let o = out + n * C
            let s = 1 / (vdot(xr, xr, C) / Float(C) + eps).squareRoot()
            rstd[n] = s
            for i in 0..<C { o[i] = w[i] * (xr[i] * s) }
        }
    }
}

/// dx[N, C] (+)= RMSNorm input gradient; dw[C] += Σ_n dout · x · rstd.
func rmsnormBackward(
    _ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    _ rstd: UnsafePointer<Float>, N: Int, C: Int, accumulate: Bool
) {
    Parallel.ranges(N, minChunk: 32) { r in
        for n in r {
            let xr = x + n * C
            let g = dout + n * C
            let d = dx + n * C
            let s = rstd[n]
            var dot: Float = 0
            for i in 0..<C { dot += w[i] * g[i] * xr[i] }
            let k = dot * s * s * s / Float(C)
            if accumulate {
                for i in 0..<C { d[i] += w[i] * g[i] * s - xr[i] * k }
            } else {
                for i in 0..<C { d[i] = w[i] * g[i] * s - xr[i] * k }
            }
        }
    }
    for n in 0..<N {
        let xr = x + n * C
        let g = dout + n * C
        let s = rstd[n]
        for i in 0..<C { dw[i] += g[i] * xr[i] * s }
    }
}

/// h[N·F] = silu(gate) · up.
func swigluForward(
    _ h: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int
) {
    Parallel.ranges(count, minChunk: 4096) { r in
        swigluForwardSIMD(h + r.lowerBound, gate + r.lowerBound, up + r.lowerBound, count: r.count)
    }
}

/// h[N·F] = silu(gate) · up on the calling thread (decode steps, and each core's part of `swigluForward`; every
/// element's value is the same whichever part computes it, and the same as `vexp` gives).
func swigluForwardSIMD(
    _ h: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int
) {
    rpp_swiglu_forward(h, gate, up, count)
}

/// x[i] = e^(x[i] − shift) for i < count; returns Σ x[i] (softmax numerators and their sum).
func expShiftedSum(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
    var sums = SIMD8<Float>()
    withUnsafeMutableBytes(of: &sums) {
        rpp_exp_shifted(x, count, shift, $0.baseAddress!.assumingMemoryBound(to: Float.self))
    }
    return sums.sum()
}

/// dgate, dup[N·F] from dh (overwrites).
func swigluBackward(
    _ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>,
    _ dh: UnsafePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int
) {
    Parallel.ranges(count, minChunk: 4096) { r in
        let o = r.lowerBound
        rpp_swiglu_backward(dgate + o, dup + o, dh + o, gate + o, up + o, r.count)
    }
}

/// out[i] = a[i] + b[i].
func residualForward(
    _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
) {
    for i in 0..<count { out[i] = a[i] + b[i] }
}
