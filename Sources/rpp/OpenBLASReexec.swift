// Starting every role on OpenBLAS's fastest safe kernels: the core type is read once when the library loads, so
// the binary re-executes itself with OPENBLAS_CORETYPE set when the CPU can run better kernels than the ones
// OpenBLAS picked.
import Foundation
import Model

extension OpenBLASTuning {
    /// Re-executes the process with OPENBLAS_CORETYPE=SkylakeX when the CPU has AVX-512 and OpenBLAS
    /// picked another core; does nothing when OPENBLAS_CORETYPE is already set or RPP_NO_REEXEC is set.
    /// Call it first thing in `main` (before any threads start). Returns only when no re-exec happened.
    public static func reexecWithAVX512KernelsIfNeeded() {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("RPP_NO_REEXEC") == nil else { return }
        guard instructionSet(ofCore: coreName) != "AVX-512", cpuHasAVX512() else { return }
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
