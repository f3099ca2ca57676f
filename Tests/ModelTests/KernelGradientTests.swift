// Finite-difference checks of each kernel's backward against its forward, on tiny shapes, with a
// random linear functional L = Σ r ⊙ out as the loss.
import XCTest

@testable import Model

final class KernelGradientTests: XCTestCase {
    override func setUp() { Parallel.configure() }

    func testMatmulGradients() {
        var rng = Xoshiro256(seed: 1)
        let N = 5
        let C = 7
        let OC = 6
        let x = buf(randomFloats(N * C, &rng))
        let w = buf(randomFloats(OC * C, &rng))
        let b = buf(randomFloats(OC, &rng))
        let r = randomFloats(N * OC, &rng)
        var out = [Float](repeating: 0, count: N * OC)
        func loss() -> Double {
            matmulForward(&out, x.pointer, w.pointer, b.pointer, N: N, C: C, OC: OC)
            return dot(r, out)
        }
        var dx = [Float](repeating: 0, count: N * C)
        var dw = [Float](repeating: 0, count: OC * C)
        var db = [Float](repeating: 0, count: OC)
        matmulBackward(&dx, &dw, &db, r, x.pointer, w.pointer, N: N, C: C, OC: OC)
        checkGradient("matmul.dx", x: x.pointer, count: x.count, analytic: dx, loss: loss)
        checkGradient("matmul.dw", x: w.pointer, count: w.count, analytic: dw, loss: loss)
        checkGradient("matmul.db", x: b.pointer, count: b.count, analytic: db, loss: loss)
    }

    func testLargeMatmulMatchesNaive() {
        // Exercises both two-way split paths (rows; columns when there are few rows) against a naive loop.
        for (N, C, OC) in [(96, 80, 72), (8, 64, 600)] { checkMatmulNaive(N: N, C: C, OC: OC) }
    }

    func checkMatmulNaive(N: Int, C: Int, OC: Int) {
        var rng = Xoshiro256(seed: 2)
        let x = randomFloats(N * C, &rng)
        let w = randomFloats(OC * C, &rng)
        var out = [Float](repeating: 0, count: N * OC)
        matmulForward(&out, x, w, nil, N: N, C: C, OC: OC)
        for n in stride(from: 0, to: N, by: 7) {
            for o in stride(from: 0, to: OC, by: 5) {
                var s = 0.0
                for i in 0..<C { s += Double(x[n * C + i]) * Double(w[o * C + i]) }
                XCTAssertEqual(Double(out[n * OC + o]), s, accuracy: 1e-4)
            }
        }
    }

    func testRMSNormGradients() {
        var rng = Xoshiro256(seed: 3)
        let N = 4
        let C = 8
        let x = buf(randomFloats(N * C, &rng))
        let w = buf(randomFloats(C, &rng))
        let r = randomFloats(N * C, &rng)
        var out = [Float](repeating: 0, count: N * C)
        var rstd = [Float](repeating: 0, count: N)
        func loss() -> Double {
            rmsnormForward(&out, &rstd, x.pointer, w.pointer, N: N, C: C, eps: 1e-5)
            return dot(r, out)
        }
        _ = loss()
        var dx = [Float](repeating: 0, count: N * C)
        var dw = [Float](repeating: 0, count: C)
        rmsnormBackward(&dx, &dw, r, x.pointer, w.pointer, rstd, N: N, C: C, accumulate: false)
        checkGradient("rmsnorm.dx", x: x.pointer, count: x.count, analytic: dx, eps: 3e-3, loss: loss)
        checkGradient("rmsnorm.dw", x: w.pointer, count: w.count, analytic: dw, eps: 3e-3, loss: loss)
    }

    func testSwiGLUGradients() {
        var rng = Xoshiro256(seed: 4)
        let n = 40
        let g = buf(randomFloats(n, &rng, scale: 3))
        let u = buf(randomFloats(n, &rng, scale: 2))
        let r = randomFloats(n, &rng)
        var h = [Float](repeating: 0, count: n)
        func loss() -> Double {
            swigluForward(&h, g.pointer, u.pointer, count: n)
            return dot(r, h)
        }
        var dg = [Float](repeating: 0, count: n)
        var du = [Float](repeating: 0, count: n)
        swigluBackward(&dg, &du, r, g.pointer, u.pointer, count: n)
        checkGradient("swiglu.dgate", x: g.pointer, count: g.count, analytic: dg, loss: loss)
        checkGradient("swiglu.dup", x: u.pointer, count: u.count, analytic: du, loss: loss)
    }

    func testRopeMatchesRotateHalfAndInverts() {
        // Hand-derived case: D = 4, position 3, theta 100: θ_0 = 1, θ_1 = 100^(-1/2) = 0.1.
        let table = RopeTable(headDim: 4, maxPos: 8, theta: 100)
        var x: [Float] = [1, 2, 3, 4]
        let pos: [Int32] = [3]
        ropeApply(&x, pos, table, N: 1, nHeads: 1, inverse: false)
        let a0 = 3.0
        let a1 = 0.3
        let expect = [
            1 * cos(a0) - 3 * sin(a0), 2 * cos(a1) - 4 * sin(a1), 3 * cos(a0) + 1 * sin(a0), 4 * cos(a1) + 2 * sin(a1),
        ]
        for i in 0..<4 { XCTAssertEqual(Double(x[i]), expect[i], accuracy: 1e-5) }
        // The backward (inverse rotation) is the transpose: <R a, b> = <a, Rᵀ b>.
        var rng = Xoshiro256(seed: 5)
        let N = 6
        let H = 2
        let a = randomFloats(N * H * 4, &rng)
        let b = randomFloats(N * H * 4, &rng)
        var ra = a
        var rtb = b
        let ps: [Int32] = [0, 1, 2, 5, 7, 3]
        ropeApply(&ra, ps, table, N: N, nHeads: H, inverse: false)
        ropeApply(&rtb, ps, table, N: N, nHeads: H, inverse: true)
        let lhs = zip(ra, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(a, rtb).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-5)
    }

    func testAttentionGradients() {
        // A [2, 5] batch without padding, with the second row's first two positions padding, and three
        // packed sequences of lengths 3, 5 and 2.
        let shapes = [
            AttentionShape(B: 2, T: 5, H: 4, KV: 2, D: 4),
            AttentionShape(B: 2, T: 5, H: 4, KV: 2, D: 4, starts: [0, 2]),
            AttentionShape(lengths: [3, 5, 2], H: 4, KV: 2, D: 4),
        ]
        for s in shapes {
            var rng = Xoshiro256(seed: 6)
            let N = s.segments.reduce(0) { $0 + $1.length }
            let q = buf(randomFloats(N * s.qd, &rng))
            let k = buf(randomFloats(N * s.kvd, &rng))
            let v = buf(randomFloats(N * s.kvd, &rng))
            let r = randomFloats(N * s.qd, &rng)
            var out = [Float](repeating: 0, count: N * s.qd)
            var stats = [Float](repeating: 0, count: N * s.H * 2)
            func loss() -> Double {
                attentionForward(&out, &stats, q.pointer, k.pointer, v.pointer, s)
                return dot(r, out)
            }
            _ = loss()
            // Causality: out at each sequence's first real position equals v there, in the head's kv group.
            for seg in s.segments {
                let t0 = seg.offset + seg.start
                for h in 0..<s.H {
                    for d in 0..<s.D {
                        XCTAssertEqual(
                            out[t0 * s.qd + h * s.D + d], v.pointer[t0 * s.kvd + (h / s.group) * s.D + d],
                            accuracy: 1e-6)
                    }
                }
            }
            let padded = s.segments.contains { $0.start > 0 }
            // A padding query outputs zero.
            if padded { XCTAssertEqual(out[6 * s.qd..<7 * s.qd].map(abs).max(), 0) }
            var dq = [Float](repeating: 0, count: N * s.qd)
            var dk = [Float](repeating: 0, count: N * s.kvd)
            var dv = [Float](repeating: 0, count: N * s.kvd)
            attentionBackward(&dq, &dk, &dv, r, stats, q.pointer, k.pointer, v.pointer, s)
            checkGradient("attn.dq", x: q.pointer, count: q.count, analytic: dq, loss: loss)
            checkGradient("attn.dk", x: k.pointer, count: k.count, analytic: dk, loss: loss)
            checkGradient("attn.dv", x: v.pointer, count: v.count, analytic: dv, loss: loss)
            if padded { XCTAssertEqual(dk[5 * s.kvd..<7 * s.kvd].map(abs).max(), 0, "padding keys get no gradient") }
        }
    }

    func testLogprobHeadGradientsAcrossChunks() {
        var rng = Xoshiro256(seed: 8)
        let N = 6
        let C = 5
        let V = 11
        let temp: Float = 0.7
        let x = buf(randomFloats(N * C, &rng))
        let W = buf(randomFloats(V * C, &rng))
        let targets: [Int32] = (0..<N).map { Int32($0 * 3 % V) }
        let gl = randomFloats(N, &rng)
        let ge = randomFloats(N, &rng)
        var lp = [Float](repeating: 0, count: N)
        var ent = [Float](repeating: 0, count: N)
        var lse = [Float](repeating: 0, count: N)
        var mz = [Float](repeating: 0, count: N)
        var scratch = [Float](repeating: 0, count: N * V)
        func loss() -> Double {
            logprobForward(
                &lp, &ent, &lse, &mz, x.pointer, .float32(W.pointer), targets, &scratch, N: N, C: C, V: V,
                temperature: temp)
            return dot(gl, lp) + dot(ge, ent)
        }
        _ = loss()
        // Against a direct softmax in Double.
        for n in 0..<N {
            let z = (0..<V).map { v in
                (0..<C).reduce(0.0) { $0 + Double(x.pointer[n * C + $1]) * Double(W.pointer[v * C + $1]) }
                    / Double(temp)
            }
            let m = z.max()!
            let lz = m + log(z.reduce(0) { $0 + exp($1 - m) })
            XCTAssertEqual(Double(lp[n]), z[Int(targets[n])] - lz, accuracy: 1e-5)
            XCTAssertEqual(Double(ent[n]), -z.reduce(0) { $0 + exp($1 - lz) * ($1 - lz) }, accuracy: 1e-5)
        }
        var dx = [Float](repeating: 0, count: N * C)
        var dW = [Float](repeating: 0, count: V * C)
        logprobBackward(
            &dx, &dW, gl, ge, lse, mz, x.pointer, .float32(W.pointer), targets, &scratch, N: N, C: C, V: V,
            temperature: temp)
        checkGradient("head.dx", x: x.pointer, count: x.count, analytic: dx, loss: loss)
        checkGradient("head.dW", x: W.pointer, count: W.count, analytic: dW, loss: loss)
    }

    func testVocabChunkingGivesSameResults() {
        // Chunks of 3 vocabulary rows must give the same log-probs, entropies and gradients as one chunk.
        var rng = Xoshiro256(seed: 9)
        let N = 4
        let C = 6
        let V = 10
        let x = randomFloats(N * C, &rng)
        let W = randomFloats(V * C, &rng)
        let targets: [Int32] = [0, 4, 9, 7]
        let gl = randomFloats(N, &rng)
        let ge = randomFloats(N, &rng)
        func run(_ chunk: Int) -> [Float] {
            var lp = [Float](repeating: 0, count: N)
            var e = lp
            var lse = lp
            var mz = lp
            var scratch = [Float](repeating: 0, count: N * V)
            logprobForward(
                &lp, &e, &lse, &mz, x, .float32(W), targets, &scratch, N: N, C: C, V: V, temperature: 1.3,
                chunkRows: chunk)
            var dx = [Float](repeating: 0, count: N * C)
            var dW = [Float](repeating: 0, count: V * C)
            logprobBackward(
                &dx, &dW, gl, ge, lse, mz, x, .float32(W), targets, &scratch, N: N, C: C, V: V, temperature: 1.3,
                chunkRows: chunk)
            return lp + e + dx + dW
        }
        let whole = run(V)
        let chunked = run(3)
        for i in whole.indices { XCTAssertEqual(whole[i], chunked[i], accuracy: 1e-5) }
    }
}
