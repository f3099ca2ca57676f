// Attention with bf16 products against the float32 path: outputs, statistics and all three gradients within
// bf16's rounding, on packed, left-padded and windowed shapes, with head sizes that fill and that do not fill
// the kernels' 32-element blocks.
import CKernels
import CSupport
import XCTest

@testable import Model

final class AttentionBF16Tests: XCTestCase {
    private struct Result {
        var out: [Float], stats: [Float], dq: [Float], dk: [Float], dv: [Float]
    }

    private func run(_ s: AttentionShape, seed: UInt64) -> Result {
        var rng = Xoshiro256(seed: seed)
        let N = s.segments.reduce(0) { $0 + $1.length }
        let q = randomFloats(N * s.qd, &rng, scale: 2)
        let k = randomFloats(N * s.kvd, &rng, scale: 2)
        let v = randomFloats(N * s.kvd, &rng)
        let dout = randomFloats(N * s.qd, &rng)
        var r = Result(
            out: .init(repeating: 0, count: N * s.qd), stats: .init(repeating: 0, count: N * s.H * 2),
            dq: .init(repeating: 9, count: N * s.qd), dk: .init(repeating: 9, count: N * s.kvd),
            dv: .init(repeating: 9, count: N * s.kvd))
        attentionForward(&r.out, &r.stats, q, k, v, s)
        attentionBackward(&r.dq, &r.dk, &r.dv, dout, r.stats, q, k, v, s)
        return r
    }

    /// ‖a − b‖ / ‖b‖.
    private func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let diff = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        let norm = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (diff / max(norm, 1e-30)).squareRoot()
    }

    func testBF16ProductsMatchFloat32WithinRounding() throws {
        guard rpp_cpu_has_avx512_bf16() != 0 else {
            // The kernels cannot run here, so no kernel may choose them.
            for kernel in MatmulKernel.allCases { XCTAssertFalse(kernel.attentionInBF16()) }
            return
        }
        var windowed = AttentionShape(lengths: [40, 9], H: 4, KV: 2, D: 64)
        windowed.window = 16
        let shapes = [
            AttentionShape(lengths: [1, 37, 70], H: 6, KV: 2, D: 64),
            AttentionShape(B: 2, T: 33, H: 4, KV: 4, D: 48, starts: [0, 5]),
            AttentionShape(lengths: [50], H: 2, KV: 1, D: 20),
            windowed,
        ]
        for (i, shape) in shapes.enumerated() {
            var low = shape
            low.bf16 = true
            let exact = run(shape, seed: UInt64(i) + 1)
            let rounded = run(low, seed: UInt64(i) + 1)
            XCTAssertNotEqual(rounded.out, exact.out, "shape \(i): the bf16 path ran")
            for (name, a, b) in [
                ("out", rounded.out, exact.out), ("stats", rounded.stats, exact.stats),
                ("dq", rounded.dq, exact.dq), ("dk", rounded.dk, exact.dk), ("dv", rounded.dv, exact.dv),
            ] {
                let e = relativeError(a, b)
                XCTAssertLessThan(e, 2e-2, "shape \(i) \(name): relative error \(e)")
            }
            // Padding queries: zero output, and padding keys get no gradient, as in float32.
            if let seg = shape.segments.first(where: { $0.start > 0 }) {
                let rows = (seg.offset..<(seg.offset + seg.start))
                XCTAssertEqual(rows.flatMap { rounded.out[$0 * shape.qd..<($0 + 1) * shape.qd] }.map(abs).max(), 0)
                XCTAssertEqual(rows.flatMap { rounded.dk[$0 * shape.kvd..<($0 + 1) * shape.kvd] }.map(abs).max(), 0)
            }
        }
    }

    func testTransposePadsTheRows() {
        let rows = 3
        let cols = 5
        let src: [UInt16] = (0..<(rows * 7)).map { UInt16($0 + 1) }
        var dst = [UInt16](repeating: 0xFFFF, count: cols * 4)
        rpp_bf16_transpose(src, 7, rows, cols, &dst, 4)
        for c in 0..<cols {
            for r in 0..<rows { XCTAssertEqual(dst[c * 4 + r], src[r * 7 + c]) }
            XCTAssertEqual(dst[c * 4 + 3], 0, "padding")
        }
    }
}
