// GFLOPS of the matrix-product kernels on SmolLM2-135M's shapes (`rpp bench kernels`): OpenBLAS on float32
// weights beside the three bf16 kernels, with weights cold in cache (each call reads the next of enough distinct
// copies to exceed the last-level cache, as the layers of a 30-layer model do).
import CKernels
import CSupport
import Foundation

/// Measures the matrix-product kernels.
public enum KernelBench {
    /// One product: C[M, N] = A[M, K] · op(B), B[N, K] (transB, forward of a linear layer) or B[K, N] (input
    /// gradient of a linear layer).
    public struct Shape: Sendable {
        /// What the product is in the model, e.g. "mlp gate/up".
        public var name: String
        public var M: Int, N: Int, K: Int
        public var transB: Bool

        public init(name: String, M: Int, N: Int, K: Int, transB: Bool) {
            self.name = name
            self.M = M
            self.N = N
            self.K = K
            self.transB = transB
        }

        /// Bytes of one bf16 copy of B.
        public var weightBytesBF16: Int { N * K * 2 }
    }

    /// What runs the product.
    public enum Variant: String, CaseIterable, Sendable {
        /// OpenBLAS sgemm on float32 weights, whatever the rows.
        case sgemm
        /// float32 weights as the fp32 model multiplies them: the streaming kernel for forward products of few
        /// rows, OpenBLAS sgemm for the rest.
        case fp32
        /// bf16 weights on each kernel.
        case widened, streamed, avx512bf16, onednn

        /// The bf16 kernel, nil for float32.
        public var kernel: MatmulKernel? { MatmulKernel(rawValue: rawValue) }
    }

    /// SmolLM2-135M's products (hidden 576, 9 heads and 3 KV heads of 64, intermediate 1536, vocabulary 49,152):
    /// the forward of each linear layer for every row count, and the input gradients for `trainingRows`.
    public static func smolLM2Shapes(rows: [Int], trainingRows: Int?) -> [Shape] {
        let forward: [(String, Int, Int)] = [
            ("attn q/o", 576, 576), ("attn k/v", 192, 576), ("mlp gate/up", 1536, 576),
            ("mlp down", 576, 1536), ("lm head", 49_152, 576),
        ]
        var shapes: [Shape] = []
        for m in rows {
            for (name, n, k) in forward { shapes.append(Shape(name: name, M: m, N: n, K: k, transB: true)) }
        }
        if let m = trainingRows {
            // dinp[M, in] = dout[M, out] · W[out, in]: B = W read as [K = out, N = in].
            for (name, out, inp) in forward {
                shapes.append(Shape(name: name + " dinp", M: m, N: inp, K: out, transB: false))
            }
        }
        return shapes
    }

    /// Register-only peak of one core: vfmadd231ps zmm, and vdpbf16ps zmm when the CPU has it (nil otherwise).
    public static func peakGFLOPS() -> (fma: Double?, dpbf16: Double?) {
        let fma = rpp_peak_gflops(0, 20_000_000)
        let dp = rpp_peak_gflops(1, 20_000_000)
        return (fma > 0 ? fma : nil, dp > 0 ? dp : nil)
    }

    /// GFLOPS of `variant` on `shape` with `threads` cores (1 or all), cycling through enough copies of B to
    /// exceed `coldBytes` of bf16 weights; timed for at least `seconds` after one untimed call. nil when the
    /// variant cannot run on this CPU or this product (its product would fall back to widened).
    public static func gflops(
        shape: Shape, variant: Variant, threads: Int, coldBytes: Int,
        seconds: Double
    ) -> Double? {
        if let kernel = variant.kernel, !kernel.isSupported() { return nil }
        if variant == .streamed && !shape.transB { return nil }  // forward products only
        let copies = max(1, (coldBytes + shape.weightBytesBF16 - 1) / shape.weightBytesBF16)
        let count = shape.N * shape.K
        var rng = Xoshiro256(seed: 11)
        let a = (0..<(shape.M * shape.K)).map { _ in Float(rng.normal()) }
        let c = UnsafeMutablePointer<Float>.allocate(capacity: shape.M * shape.N)
        defer { c.deallocate() }
        let one = (0..<count).map { _ in Float(rng.normal()) * 0.05 }
        var f32: [UnsafeMutablePointer<Float>] = []
        var bf16: [UnsafeMutablePointer<UInt16>] = []
        defer {
            for buffer in f32 { buffer.deallocate() }
            for buffer in bf16 { buffer.deallocate() }
        }
        for _ in 0..<copies {
            if variant == .fp32 || variant == .sgemm {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
                p.initialize(from: one, count: count)
                f32.append(p)
            } else {
                let p = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
                one.withUnsafeBufferPointer { rpp_f32_to_bf16($0.baseAddress!, p, count) }
                bf16.append(p)
            }
        }
        let ldb = shape.transB ? shape.K : shape.N
        return a.withUnsafeBufferPointer { ap -> Double in
            func call(_ i: Int) {
                if variant == .sgemm {
                    openBLASGemm(
                        transA: false, transB: shape.transB, M: shape.M, N: shape.N, K: shape.K, alpha: 1,
                        A: ap.baseAddress!, lda: shape.K, B: f32[i % copies], ldb: ldb, beta: 0, C: c, ldc: shape.N)
                    return
                }
                let b: MatrixOperand = variant == .fp32 ? .float32(f32[i % copies]) : .bfloat16(bf16[i % copies])
                gemm(
                    transB: shape.transB, M: shape.M, N: shape.N, K: shape.K, alpha: 1, A: ap.baseAddress!,
                    lda: shape.K, B: b, ldb: ldb, beta: 0, C: c, ldc: shape.N, kernel: variant.kernel ?? .widened)
            }
            // Few rows read every copy (their time is the weights' trip from memory); many rows are compute-bound.
            let minimumCalls = shape.M <= 64 ? min(copies, 1000) : 2
            var calls = 0
            var elapsed = 0.0
            onCores(threads) {
                call(copies - 1)
                let start = DispatchTime.now().uptimeNanoseconds
                repeat {
                    call(calls)
                    calls += 1
                    elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                } while elapsed < seconds || calls < minimumCalls
            }
            return 2 * Double(shape.M) * Double(shape.N) * Double(shape.K) * Double(calls) / elapsed / 1e9
        }
    }

    /// Runs `body` on all cores' split (threads > 1) or on one thread: inside a fan-out, the kernels' own
    /// splits run in order on the calling thread.
    private static func onCores(_ threads: Int, _ body: () -> Void) {
        if threads > 1 {
            body()
            return
        }
        Parallel.forEach(2) { i in if i == 0 { body() } }
    }

    /// The last-level cache's size in bytes (0 when unknown).
    public static func lastLevelCacheBytes() -> Int {
        for index in [3, 2] {
            let path = "/sys/devices/system/cpu/cpu0/cache/index\(index)/size"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let scale = t.hasSuffix("K") ? 1024 : t.hasSuffix("M") ? 1 << 20 : 1
            if let n = Int(t.filter(\.isNumber)) { return n * scale }
        }
        return 0
    }
}

extension KernelBench {
    /// GB/s of float32 read by float32 -> bfloat16 rounding on one core (4 Mi values, best of rounds of about 0.1 s):
    /// the portable loop, the AVX2 loop (nil without AVX2) and the path `rpp_f32_to_bf16` takes on this CPU.
    public static func roundingGBps() -> (portable: Double, avx2: Double?, chosen: Double) {
        let count = 4 << 20
        var rng = Xoshiro256(seed: 7)
        let src = (0..<count).map { _ in Float(rng.normal()) }
        var dst = [UInt16](repeating: 0, count: count)
        func rate(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<UInt16>, Int) -> Void) -> Double {
            var best = Double.infinity
            src.withUnsafeBufferPointer { s in
                dst.withUnsafeMutableBufferPointer { d in
                    body(s.baseAddress!, d.baseAddress!, count)
                    for _ in 0..<3 {
                        let start = DispatchTime.now().uptimeNanoseconds
                        var calls = 0
                        var elapsed = 0.0
                        repeat {
                            body(s.baseAddress!, d.baseAddress!, count)
                            calls += 1
                            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        } while elapsed < 0.1
                        best = min(best, elapsed / Double(calls))
                    }
                }
            }
            return Double(count * 4) / best / 1e9
        }
        return (
            rate { rpp_f32_to_bf16_portable($0, $1, $2) },
            rpp_cpu_has_avx2() != 0 ? rate { rpp_f32_to_bf16_avx2($0, $1, $2) } : nil,
            rate { rpp_f32_to_bf16($0, $1, $2) }
        )
    }
}
