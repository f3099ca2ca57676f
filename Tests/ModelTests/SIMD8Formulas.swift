// The SIMD8 Swift formulas that the C kernels replaced (Sources/CKernels), kept here as the references those
// kernels are checked against bit for bit: e^x per lane, axpy, and loads and stores of up to 8 lanes.
@inline(__always)
func vaxpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    let ry = UnsafeMutableRawPointer(y)
    let rx = UnsafeRawPointer(x)
    let av = SIMD8<Float>(repeating: alpha)
    var i = 0
    while i + 8 <= n {
        let v =
            ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) + av
            * rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        ry.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        y[i] += alpha * x[i]
        i += 1
    }
}

/// e^x per lane: x = n ln2 + r with |r| ≤ ln2/2, e^r by the Cephes expf polynomial, 2^n from the
/// exponent bits; within 2 ulp of libm's expf. x is clamped to [-87, 88] (e^-87 ≈ 1.6e-38 stands in for 0).
@inline(__always)
func vexp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var x = x
    x.replace(with: -87, where: x .< -87)
    x.replace(with: 88, where: x .> 88)
    // t = 1.5 · 2^23 + n: adding 1.5 · 2^23 rounds x log2(e) to the integer n, which then sits in t's low bits.
    let t = x * 1.442_695_04 + 12_582_912
    let n = t - 12_582_912
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 0.166_666_655
    p = p * r + 0.500_000_012
    let er = p * r * r + r + 1
    let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000  // n
    let scale = unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)  // 2^n
    return er * scale
}

/// Loads count ≤ 8 floats (the rest of the lanes 0).
@inline(__always)
func vload(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD8<Float> {
    if count >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Stores the first count ≤ 8 lanes of v.
@inline(__always)
func vstore(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count >= 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        return
    }
    for i in 0..<count { p[i] = v[i] }
}
