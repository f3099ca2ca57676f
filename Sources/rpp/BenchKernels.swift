// `rpp bench kernels`: what this CPU allows (register-only peak of fp32 FMA and of bf16 dot products) and the
// GFLOPS of every matrix-product kernel on SmolLM2-135M's shapes, one core and all cores, weights cold in cache.
import ArgumentParser
import Foundation
import Model

/// `rpp bench kernels`: matrix-product kernels on SmolLM2-135M's shapes.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GFLOPS of the fp32 and bf16 matrix-product kernels on SmolLM2-135M's shapes, with the CPU's peak.",
        discussion: """
            Prints the CPU, the kernel rpp selects for bf16 weights, the register-only peak of one core \
            (24 independent vfmadd231ps resp. vdpbf16ps on zmm registers), then per product GFLOPS on fp32 \
            weights of OpenBLAS sgemm and of rpp's fp32 path (the streaming kernel for forward products of at \
            most \(MatmulKernel.streamedFloat32MaxRows) rows, sgemm for the rest), and on bf16 weights: widened to fp32 \
            for sgemm, rpp's streaming kernel (forward products only), rpp's AVX512-BF16 kernel, oneDNN's matmul. \
            --rows are decode steps; the training rows also get the input-gradient products (B[K, N]). Each call \
            reads the next of enough copies of the weights to exceed --cold-mb (default 1.25x the last-level \
            cache). "-" marks a kernel this CPU (or this product) cannot run. RPP_MATMUL_KERNEL picks the \
            selected kernel.
            """)

    @Option(help: "Decode row counts, comma separated.") var rows: String = "1,16,64"
    @Option(help: "Rows of the training products (0: none).") var trainingRows: Int = 2048
    @Option(help: "Core counts to measure, comma separated (1 and/or the machine's cores).") var threads: String = "1,2"
    @Option(help: "Products to measure (substring of their names, e.g. \"mlp\"); empty: all.") var only: String = ""
    @Option(help: "Megabytes of distinct bf16 weights each product cycles through (0: 1.25x the last-level cache).")
    var coldMb: Int = 0
    @Option(help: "Seconds per measurement (after one untimed call).") var seconds: Double = 0.3
    @Flag(help: "Print a Markdown table.") var markdown = false

    func validate() throws {
        guard let r = Self.list(rows), !r.isEmpty, r.allSatisfy({ (1...4096).contains($0) }) else {
            throw ValidationError("--rows: comma-separated counts in 1...4096, got \(rows)")
        }
        try checkRange(trainingRows, 0...8192, "--training-rows")
        guard let t = Self.list(threads), !t.isEmpty, t.allSatisfy({ (1...1024).contains($0) }) else {
            throw ValidationError("--threads: comma-separated core counts, got \(threads)")
        }
        try checkRange(coldMb, 0...65_536, "--cold-mb")
        guard seconds > 0 && seconds <= 60 else {
            throw ValidationError("--seconds must be in (0, 60], got \(seconds)")
        }
    }

    static func list(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(where: { $0 == nil }) ? nil : parts.map { $0! }
    }

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        Parallel.configure()
        let llc = KernelBench.lastLevelCacheBytes()
        let cold = coldMb > 0 ? coldMb << 20 : max(64 << 20, llc + llc / 4)
        print(
            "\(ModelBench.cpuLine()), last-level cache "
                + "\(llc >> 20) MB, OpenBLAS core \(OpenBLASTuning.coreName), oneDNN \(MatmulKernel.oneDNNVersion)")
        print(MatmulKernel.summary())
        let peak = KernelBench.peakGFLOPS()
        let fma = peak.fma.map { String(format: "%.0f", $0) } ?? "- (no AVX-512)"
        let dp = peak.dpbf16.map { String(format: "%.0f", $0) } ?? "- (no AVX512-BF16)"
        print("peak of one core, register-only: vfmadd231ps zmm \(fma) GFLOPS, vdpbf16ps zmm \(dp) GFLOPS")
        let rounding = KernelBench.roundingGBps()
        let gbps = { (rate: Double) in String(format: "%.1f GB/s", rate) }
        print(
            "fp32 -> bf16 rounding, one core: portable \(gbps(rounding.portable)), AVX2 "
                + "\(rounding.avx2.map(gbps) ?? "- (no AVX2)"), on this CPU's path \(gbps(rounding.chosen))")
        print("weights cycled per product: \(cold >> 20) MB of bf16 (twice that in fp32)")
        var shapes = KernelBench.smolLM2Shapes(
            rows: Self.list(rows)!,
            trainingRows: trainingRows > 0 ? trainingRows : nil)
        if trainingRows > 0 {
            let forward = KernelBench.smolLM2Shapes(rows: [trainingRows], trainingRows: nil)
            shapes.insert(contentsOf: forward, at: shapes.count - forward.count)
        }
        if !only.isEmpty { shapes = shapes.filter { $0.name.contains(only) } }
        let variants = KernelBench.Variant.allCases
        let header =
            ["product", "M x N x K", "B", "cores"]
            + variants.map { v in
                switch v {
                case .sgemm: "fp32 sgemm"
                case .fp32: "fp32 rpp"
                default: "bf16 \(v.rawValue)"
                }
            } + ["selected"]
        if markdown {
            print("| " + header.joined(separator: " | ") + " |")
            print("|" + header.map { _ in "---" }.joined(separator: "|") + "|")
        } else {
            print(header.joined(separator: "\t"))
        }
        for shape in shapes {
            for t in Self.list(threads)! {
                let cores = min(t, Parallel.workers)
                let figures = variants.map { v -> String in
                    let g = KernelBench.gflops(
                        shape: shape, variant: v, threads: cores, coldBytes: cold,
                        seconds: seconds)
                    return g.map { String(format: "%.1f", $0) } ?? "-"
                }
                let cells =
                    [
                        shape.name, "\(shape.M) x \(shape.N) x \(shape.K)", shape.transB ? "[N,K]" : "[K,N]",
                        "\(cores)",
                    ] + figures
                    + [MatmulKernel.selected.path(rows: shape.M, transB: shape.transB).rawValue]
                print(markdown ? "| " + cells.joined(separator: " | ") + " |" : cells.joined(separator: "\t"))
                fflush(nil)
            }
        }
    }
}
