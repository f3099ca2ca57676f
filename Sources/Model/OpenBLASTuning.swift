// Which OpenBLAS kernels run. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) drives AMD Zen 4 with its AVX2 kernels;
// its AVX-512 (SkylakeX) kernels run sgemm about twice as fast there. The core type is read once when the
// library loads, so only an environment variable set before the process starts changes it; the rpp binary
// re-executes itself for that (process control is the binary's business, not the engine's).
import COpenBLAS
import Foundation

/// Facts about OpenBLAS's kernels on this CPU.
public enum OpenBLASTuning {
    /// The core type OpenBLAS selected (e.g. "Zen", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Kernels every x86-64 CPU in use runs (SSE4.2 at most), whose blocking sizes are constants rather than
    /// derived from the cache size: a run made with OPENBLAS_CORETYPE=Nehalem (the committed test recording is)
    /// replays bit for bit on any x86-64 machine, Intel or AMD, since `rpp replay` re-executes with them.
    public static let portableCore = "Nehalem"

    /// The instruction set OpenBLAS core `name` needs beyond SSE ("AVX-512", "AVX2"), or nil for older or unknown
    /// cores.
    public static func instructionSet(ofCore name: String) -> String? {
        let core = name.lowercased()
        if ["skylakex", "cooperlake", "sapphirerapids"].contains(core) { return "AVX-512" }
        if ["haswell", "zen", "skylake"].contains(core) { return "AVX2" }
        return nil
    }

    /// True when /proc/cpuinfo lists avx512f, avx512bw, avx512vl, avx512dq and avx512cd.
    public static func cpuHasAVX512() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains)
    }
}
