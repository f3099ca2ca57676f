// Which kernel runs the matrix products whose weights are stored in bfloat16, decided once from the CPU:
//   AMX (AMX-BF16 tiles granted by the kernel)  -> oneDNN's matmul primitive (it uses the tiles)
//   AVX512-BF16 at full rate (AMD)              -> oneDNN's matmul primitive
//   AVX512-BF16 at half rate (Intel)            -> rpp's own AVX512-BF16 kernel where it was measured faster
//                                                  than widening (forward products of few rows), widened
//                                                  sgemm elsewhere
//   otherwise                                   -> rpp's own streaming kernel (bf16 widened in registers) for
//                                                  forward products of few rows (decode steps, where it moves
//                                                  half the bytes of fp32), widened sgemm elsewhere
// With oneDNN, the weight gradients of bf16 layers take bf16 operands too; otherwise they stay float32 sgemm.
// RPP_MATMUL_KERNEL=widened|streamed|avx512bf16|onednn overrides the choice (benchmarks, tests, comparing runs); a
// kernel the CPU cannot run falls back to widened, and the start-up line says so.
import CKernels
import CSupport
import Foundation

/// A way to compute C = alpha · A · op(B) + beta · C when B is stored in bfloat16.
public enum MatmulKernel: String, CaseIterable, Sendable {
    /// B widened to float32 in blocks, then OpenBLAS's sgemm: exact products of A (float32) and B.
    case widened
    /// rpp's own kernel for forward products of few rows: each bf16 weight read once and widened to float32 in
    /// registers, exact float32 products (`rpp_bf16_gemm_nt_streamed`); widened sgemm for the other products.
    case streamed
    /// rpp's AVX512-BF16 kernels: A rounded to bf16, vdpbf16ps products accumulated in float32.
    case avx512bf16
    /// oneDNN's matmul primitive on bf16 A and B with a float32 result (AMX tiles when the CPU has them).
    case onednn

    /// The matrix features of a CPU that the choice depends on.
    public struct CPU: Sendable, Equatable {
        /// The model name from /proc/cpuinfo (empty when unknown).
        public var name: String
        /// AVX512-BF16 (with AVX512BW and VL).
        public var hasAVX512BF16: Bool
        /// AMX-BF16 tiles usable by this process.
        public var hasAMX: Bool
        /// oneDNN has a bf16 matmul for this CPU (it needs AVX-512 at least).
        public var oneDNNRunsBF16: Bool
        /// vdpbf16ps delivers more flops than the float32 FMA: AMD's cores (Zen 4 and later) run it at twice the
        /// FMA's flops, Intel's at half (`rpp bench kernels --only peak` shows both figures).
        public var fastBF16Dot: Bool

        /// Describes a CPU (tests build CPUs they are not running on).
        public init(
            name: String, hasAVX512BF16: Bool, hasAMX: Bool, oneDNNRunsBF16: Bool, fastBF16Dot: Bool = false
        ) {
            self.name = name
            self.hasAVX512BF16 = hasAVX512BF16
            self.hasAMX = hasAMX
            self.oneDNNRunsBF16 = oneDNNRunsBF16
            self.fastBF16Dot = hasAVX512BF16 && fastBF16Dot
        }

        /// The CPU this process runs on.
        public static let current = CPU(
            name: cpuModelName(), hasAVX512BF16: rpp_cpu_has_avx512_bf16() != 0,
            hasAMX: rpp_cpu_has_amx_bf16() != 0,
            oneDNNRunsBF16: MatmulKernel.oneDNNImplementationName != nil,
            fastBF16Dot: dotRunsAtFullRate(vendor: cpuInfoField("vendor_id")))

        /// True for the vendors whose AVX512-BF16 cores run vdpbf16ps at least as fast (in flops) as the float32
        /// FMA: AMD (Zen 4: 212-234 against 113-117 GFLOPS a core).
        public static func dotRunsAtFullRate(vendor: String) -> Bool { vendor == "AuthenticAMD" }
    }

    /// The environment variable that overrides the choice.
    public static let environmentVariable = "RPP_MATMUL_KERNEL"

    /// Most rows for which the AVX512-BF16 kernel replaces widened sgemm in forward products (B = W[N, K]) when it
    /// is the selected kernel: decode steps and short prefills, where the kernel streams the weights once in bf16
    /// while widening writes and reads them again in float32 (a decode step over both cores runs each core's half of
    /// the rows as one product). Measured with `rpp bench kernels`: from 48 rows on, and for
    /// input gradients (B = W read as [K, N]), widened sgemm is as fast or faster, because vdpbf16ps retires at
    /// half the rate of fp32 FMAs on CPUs without AMX.
    public static let avx512MaxRows = 32

    /// Most rows for which the streaming kernel replaces widened sgemm in forward products of bf16 weights, when it
    /// is the selected kernel: up to here it reads half the bytes and outruns sgemm. Measured with `rpp bench
    /// kernels` (docs/precision.md has the figures and the CPU).
    public static let streamedMaxRows = 16

    /// Most rows for which the streaming kernel replaces sgemm in forward products of float32 weights. Up to here
    /// a product is bound by the weights' trip from memory, where OpenBLAS's sgemm (which packs B first) falls well
    /// short of the memory's speed. Measured with `rpp bench kernels`: from 12 to 16 rows the two are even.
    public static let streamedFloat32MaxRows = 8

    /// True when this CPU can run the kernel (a kernel it cannot run falls back to `widened`): AVX512-BF16 for
    /// the own kernel, a bf16 matmul in oneDNN for oneDNN.
    public func isSupported(on cpu: CPU = .current) -> Bool {
        switch self {
        case .widened, .streamed: return true
        case .avx512bf16: return cpu.hasAVX512BF16
        case .onednn: return cpu.oneDNNRunsBF16
        }
    }

    /// The kernel for `cpu`, or the one `requested` names (nil or empty: choose by CPU). A requested kernel the
    /// CPU cannot run gives `widened`; an unknown name is an error that lists the known ones.
    public static func choose(cpu: CPU, requested: String?) throws -> MatmulKernel {
        if let requested, !requested.isEmpty {
            guard let kernel = MatmulKernel(rawValue: requested.lowercased()) else {
                throw ModelError.invalidConfig(
                    "\(environmentVariable)=\(requested) is not a matmul kernel (widened, streamed, avx512bf16, onednn)"
                )
            }
            return kernel.isSupported(on: cpu) ? kernel : .widened
        }
        if cpu.oneDNNRunsBF16 && (cpu.hasAMX || cpu.fastBF16Dot) { return .onednn }
        if cpu.hasAVX512BF16 { return .avx512bf16 }
        return .streamed
    }

    nonisolated(unsafe) private static var chosen: MatmulKernel?
    private static let lock = NSLock()

    /// The kernel bf16 products use: chosen from the CPU and RPP_MATMUL_KERNEL on first use (an unknown name
    /// stops the process with a message naming the variable), or what the setter last stored. Set it before
    /// computing, not while products run.
    public static var selected: MatmulKernel {
        get {
            lock.lock()
            defer { lock.unlock() }
            if let chosen { return chosen }
            let requested = ProcessInfo.processInfo.environment[environmentVariable]
            do {
                let kernel = try choose(cpu: .current, requested: requested)
                chosen = kernel
                return kernel
            } catch {
                FileHandle.standardError.write(Data("rpp: \(error)\n".utf8))
                exit(2)
            }
        }
        set {
            lock.lock()
            defer { lock.unlock() }
            chosen = newValue.isSupported() ? newValue : .widened
        }
    }

    /// The kernel that runs one product when `self` is selected: the AVX512-BF16 and streaming kernels hand
    /// input-gradient products (`transB` false) and products of more than `avx512MaxRows` or `streamedMaxRows`
    /// rows to widened sgemm; a kernel the CPU cannot run gives `widened`.
    public func path(rows: Int, transB: Bool, cpu: CPU = .current) -> MatmulKernel {
        if !isSupported(on: cpu) { return .widened }
        if self == .avx512bf16 && (rows > MatmulKernel.avx512MaxRows || !transB) { return .widened }
        if self == .streamed && (rows > MatmulKernel.streamedMaxRows || !transB) { return .widened }
        return self
    }

    /// True when the product takes its first operand rounded to bf16 (the AVX512-BF16 and oneDNN kernels); the
    /// widened and streaming kernels multiply it in float32.
    public var roundsActivations: Bool { self == .avx512bf16 || self == .onednn }

    /// True when the weight gradients of bf16 layers (dW = doutᵀ · x) take bf16 operands with float32
    /// accumulation, as the forward and input-gradient products do: with oneDNN, chosen where bf16 outruns
    /// float32. With the other kernels they stay float32 sgemm (bf16 would be slower there).
    public func weightGradientsInBF16(cpu: CPU = .current) -> Bool {
        self == .onednn && isSupported(on: cpu)
    }

    /// True when attention's products (q·kᵀ, P·v and their gradients) take bf16 operands too: on CPUs whose
    /// vdpbf16ps outruns the float32 FMA, with a kernel that rounds activations (the own AVX512-BF16 kernels run them;
    /// see Kernels+AttentionBF16). Elsewhere float32 sgemm is faster for them.
    public func attentionInBF16(cpu: CPU = .current) -> Bool {
        roundsActivations && isSupported(on: cpu) && cpu.fastBF16Dot
    }

    /// One line for the start-up print, e.g. "matmul: bf16 weights, AVX512-BF16 kernel for forward products of <= 32
    /// rows, OpenBLAS sgemm on widened bf16 for the rest; CPU Intel(R) Xeon(R) Processor, AVX512-BF16 yes, AMX no".
    public static func summary(
        kernel: MatmulKernel = selected, cpu: CPU = .current,
        requested: String? = ProcessInfo.processInfo.environment[environmentVariable]
    ) -> String {
        var how: String
        switch kernel {
        case .widened: how = "OpenBLAS sgemm on bf16 widened to fp32"
        case .streamed:
            how =
                "streaming kernel (bf16 widened in registers) for forward products of <= \(streamedMaxRows) rows, "
                + "OpenBLAS sgemm on widened bf16 for the rest"
        case .avx512bf16:
            how =
                "AVX512-BF16 kernel for forward products of <= \(avx512MaxRows) rows, OpenBLAS sgemm on widened bf16 "
                + "for the rest"
        case .onednn: how = "oneDNN \(oneDNNVersion) matmul (\(oneDNNImplementation)), weight gradients too"
        }
        if let requested, !requested.isEmpty, requested.lowercased() != kernel.rawValue {
            how += " (\(environmentVariable)=\(requested) is not available on this CPU)"
        } else if let requested, !requested.isEmpty {
            how += " (set by \(environmentVariable))"
        }
        if kernel.attentionInBF16(cpu: cpu) { how += "; attention's products on the AVX512-BF16 kernels" }
        if !kernel.roundsActivations && !cpu.hasAVX512BF16 && !cpu.hasAMX {
            how +=
                "; no bf16 instructions on this CPU: bf16 halves the weights' memory and bytes, its products run in fp32"
        }
        let name = cpu.name.isEmpty ? "unknown CPU" : cpu.name
        return "matmul: bf16 weights, \(how); CPU \(name), AVX512-BF16 \(cpu.hasAVX512BF16 ? "yes" : "no"), "
            + "AMX \(cpu.hasAMX ? "yes" : "no")"
    }

    /// oneDNN's version, e.g. "2.6.3".
    public static var oneDNNVersion: String {
        var buffer = [CChar](repeating: 0, count: 32)
        rpp_onednn_version(&buffer, buffer.count)
        return String(cString: buffer)
    }

    /// The implementation oneDNN picks for a bf16 product of SmolLM2-135M's MLP shape (e.g.
    /// "brg:avx512_core_amx"), or "none" when it has none for this CPU.
    public static var oneDNNImplementation: String { oneDNNImplementationName ?? "none" }

    /// The implementation's name, or nil when oneDNN cannot make a bf16 matmul here.
    static let oneDNNImplementationName: String? = {
        var buffer = [CChar](repeating: 0, count: 128)
        return rpp_onednn_impl_name(1, 64, 1536, 576, &buffer, buffer.count) == 0 ? String(cString: buffer) : nil
    }()
}

/// The "model name" line of /proc/cpuinfo, or "" when there is none.
func cpuModelName() -> String { cpuInfoField("model name") }

/// The first `field` line of /proc/cpuinfo (e.g. "vendor_id"), or "" when there is none.
func cpuInfoField(_ field: String) -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "" }
    for line in info.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":"),
            line[..<colon].trimmingCharacters(in: .whitespaces) == field
        else { continue }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return ""
}
