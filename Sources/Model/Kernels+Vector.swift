// Small vector helpers over raw Float pointers with SIMD8 accumulators: dot product, maximum, softmax sums
// (Swift does not reassociate scalar float sums, so plain loops do not vectorise).
//
// vdot(a, b, n) = Σ_i a[i] b[i];   vmax(x, n) = max_i x[i];
// expShiftedSums(x, n, s) = (Σ e^(x[i] − s), Σ e^(x[i] − s) x[i]).

import CKernels

@inline(__always)
func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>()
    var acc1 = SIMD8<Float>()
    let ra = UnsafeRawPointer(a)
    let rb = UnsafeRawPointer(b)
    var i = 0
    while i + 16 <= n {
        acc0 +=
            ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        acc1 +=
            ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
            * rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self)
        i += 16
    }
    if i + 8 <= n {
        acc0 +=
            ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            * rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    var s = (acc0 + acc1).sum()
    while i < n {
        s += a[i] * b[i]
        i += 1
    }
    return s
}

/// max_i x[i] over count ≥ 1 floats (no NaNs).
@inline(__always)
func vmax(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var m = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= count {
        m = pointwiseMax(m, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
        i += 8
    }
    var r = m.max()
    while i < count {
        r = max(r, x[i])
        i += 1
    }
    return r
}

/// (Σ e^(x[i] − shift), Σ e^(x[i] − shift) · x[i]) over count floats, x unchanged: a softmax's normaliser and
/// the numerator of its mean.
func expShiftedSums(_ x: UnsafePointer<Float>, count: Int, shift: Float) -> (sum: Float, weighted: Float) {
    var sums = SIMD8<Float>()
    var weighted = SIMD8<Float>()
    withUnsafeMutableBytes(of: &sums) { s in
        withUnsafeMutableBytes(of: &weighted) { w in
            rpp_exp_shifted_sums(
                x, count, shift, s.baseAddress!.assumingMemoryBound(to: Float.self),
                w.baseAddress!.assumingMemoryBound(to: Float.self))
        }
    }
    return (sums.sum(), weighted.sum())
}
