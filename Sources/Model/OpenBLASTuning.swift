// OpenBLAS kernel selection. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) drives AMD Zen 4 with its
// AVX2 kernels; its AVX-512 (SkylakeX) kernels run sgemm about twice as fast there. The core type is
// read once when the library loads, so the only way to change it is an environment variable set
// before the process starts: `reexecWithAVX512KernelsIfNeeded` re-executes the current binary with
// OPENBLAS_CORETYPE=SkylakeX when the CPU has the AVX-512 subsets those kernels use.
import COpenBLAS
import Foundation

/// Chooses OpenBLAS's fastest safe kernels for this CPU.
public enum OpenBLASTuning {
    /// The core type OpenBLAS selected (e.g. "Zen", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Kernels every x86-64 CPU in use runs (SSE4.2 at most), whose blocking sizes are constants rather than
    /// derived from the cache size: a run made with OPENBLAS_CORETYPE=Nehalem (the committed test recording is)
    /// replays bit for bit on any x86-64 machine, Intel or AMD, since `rpp replay` re-executes with them.
    public static let portableCore = "Nehalem"

    /// True when /proc/cpuinfo lists avx512f, avx512bw, avx512vl, avx512dq and avx512cd.
    public static func cpuHasAVX512() -> Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains)
    }

    /// Re-executes the process with OPENBLAS_CORETYPE=SkylakeX when the CPU has AVX-512 and OpenBLAS
    /// picked another core; does nothing when OPENBLAS_CORETYPE is already set or RPP_NO_REEXEC is set.
    /// Call it first thing in `main` (before any threads start). Returns only when no re-exec happened.
    public static func reexecWithAVX512KernelsIfNeeded() {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("RPP_NO_REEXEC") == nil else { return }
        let core = coreName.lowercased()
        if core.contains("skylakex") || core.contains("cooperlake") || core.contains("sapphire") { return }
        guard cpuHasAVX512() else { return }
        reexec(withCore: "SkylakeX")
    }

    /// Re-executes this binary, same arguments, with OPENBLAS_CORETYPE=`core` (and `marker`=1 when given, so
    /// that the new process can tell it was re-executed). Returns only when exec failed, with the environment
    /// as it was: the caller carries on with the kernels it has.
    public static func reexec(withCore core: String, marker: String? = nil) {
        let previous = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        setenv("OPENBLAS_CORETYPE", core, 1)
        if let marker { setenv(marker, "1", 1) }
        fflush(nil)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        if let previous { setenv("OPENBLAS_CORETYPE", previous, 1) } else { unsetenv("OPENBLAS_CORETYPE") }
        if let marker { unsetenv(marker) }
    }
}
