// `rpp bench kernels`: the CPU and selected-kernel lines, a table row, and RPP_MATMUL_KERNEL's override and errors.
import XCTest

final class BenchKernelsCommandTests: XCTestCase {
    private func run(kernel: String?) throws -> RPPRun {
        if let kernel { setenv("RPP_MATMUL_KERNEL", kernel, 1) } else { unsetenv("RPP_MATMUL_KERNEL") }
        defer { unsetenv("RPP_MATMUL_KERNEL") }
        return try RPP.run([
            "bench", "kernels", "--rows", "1", "--training-rows", "0", "--only", "attn k/v",
            "--threads", "1", "--seconds", "0.01", "--cold-mb", "1",
        ])
    }

    func testPrintsTheCPUTheSelectedKernelAndARow() throws {
        let r = try run(kernel: nil)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("CPU: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("matmul: bf16 weights, "), r.stdout)
        XCTAssertTrue(r.stdout.contains("peak of one core, register-only: vfmadd231ps zmm"), r.stdout)
        XCTAssertTrue(r.stdout.contains("attn k/v\t1 x 192 x 576\t[N,K]\t1\t"), r.stdout)
    }

    func testEnvironmentOverridesTheKernel() throws {
        let r = try run(kernel: "widened")
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = "matmul: bf16 weights, OpenBLAS sgemm on bf16 widened to fp32 (set by RPP_MATMUL_KERNEL)"
        XCTAssertTrue(r.stdout.contains(line), r.stdout)
        XCTAssertTrue(r.stdout.contains("\twidened\n"), r.stdout)
        // oneDNN runs here or is reported unavailable; either way the line names the variable.
        let onednn = try run(kernel: "onednn")
        XCTAssertEqual(onednn.status, 0, onednn.stderr)
        XCTAssertTrue(onednn.stdout.contains("RPP_MATMUL_KERNEL"), onednn.stdout)
    }

    func testUnknownKernelIsAnErrorNamingTheVariable() throws {
        let r = try run(kernel: "amx-please")
        XCTAssertNotEqual(r.status, 0)
        let message = "RPP_MATMUL_KERNEL=amx-please is not a matmul kernel (widened, streamed, avx512bf16, onednn)"
        XCTAssertTrue(r.stderr.contains(message), r.stderr)
    }
}
