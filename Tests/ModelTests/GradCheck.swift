// Finite-difference helpers for the gradient checks: central differences in Float32 with the loss
// summed in Double, checked along random directions (robust in single precision) and on the
// largest individual coordinates.
import XCTest

@testable import Model

/// Random floats in [-scale, scale).
func randomFloats(_ n: Int, _ rng: inout Xoshiro256, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.uniform() * 2 - 1) * scale }
}

/// Checks `analytic` (dL/dx for the `count` floats at `x`) against central differences of `loss`.
/// Directional derivatives along 3 random unit directions must agree to `rtol` relative (of the
/// gradient norm), and the 3 largest coordinates to `rtol` relative.
func checkGradient(
    _ name: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
    eps: Float = 1e-2, rtol: Double = 2e-2, seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line, loss: () -> Double
) {
    var rng = Xoshiro256(seed: seed)
    let gnorm = sqrt(analytic.reduce(0.0) { $0 + Double($1) * Double($1) })
    XCTAssertGreaterThan(gnorm, 1e-6, "\(name): gradient is zero, the check would be vacuous", file: file, line: line)
    let saved = Array(UnsafeBufferPointer(start: x, count: count))
    func restore() { for i in 0..<count { x[i] = saved[i] } }
    for _ in 0..<3 {
        var u = (0..<count).map { _ in rng.normal() }
        let un = sqrt(u.reduce(0) { $0 + $1 * $1 })
        u = u.map { $0 / un }
        for i in 0..<count { x[i] = saved[i] + eps * Float(u[i]) }
        let lp = loss()
        for i in 0..<count { x[i] = saved[i] - eps * Float(u[i]) }
        let lm = loss()
        restore()
        let fd = (lp - lm) / (2 * Double(eps))
        let an = zip(analytic, u).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        XCTAssertEqual(an, fd, accuracy: rtol * gnorm + 1e-4, "\(name): directional derivative", file: file, line: line)
    }
    let top = analytic.indices.sorted { abs(analytic[$0]) > abs(analytic[$1]) }.prefix(3)
    for i in top {
        x[i] = saved[i] + eps
        let lp = loss()
        x[i] = saved[i] - eps
        let lm = loss()
        restore()
        let fd = (lp - lm) / (2 * Double(eps))
        XCTAssertEqual(
            Double(analytic[i]), fd, accuracy: rtol * abs(fd) + 2e-3 * gnorm + 1e-4,
            "\(name)[\(i)]", file: file, line: line)
    }
}

/// Σ r[i] · out[i] in Double.
func dot(_ r: [Float], _ p: UnsafePointer<Float>) -> Double {
    var s = 0.0
    for i in r.indices { s += Double(r[i]) * Double(p[i]) }
    return s
}

/// A FloatBuffer holding `a` (tests mutate inputs through its pointer while closures read it).
func buf(_ a: [Float]) -> FloatBuffer {
    let b = FloatBuffer(count: a.count)
    for i in a.indices { b.pointer[i] = a[i] }
    return b
}
