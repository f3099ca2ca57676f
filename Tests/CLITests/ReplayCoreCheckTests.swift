// `rpp replay` of a recording made with OpenBLAS kernels this CPU cannot run: a clear refusal, decided as a value.
import Foundation
import Model
import TestKit
import XCTest

@testable import rpp

final class ReplayCoreCheckTests: XCTestCase {
    func testCoresThisCPUCannotRunAreNamedWithWhatTheyNeed() throws {
        let refusal = try XCTUnwrap(BLASCore.cannotRun(recorded: "SkylakeX", hasAVX512: false, hasAVX2: true))
        XCTAssertTrue(refusal.contains("SkylakeX kernels, which need AVX-512"), refusal)
        XCTAssertTrue(refusal.contains("OPENBLAS_CORETYPE"), refusal)
        XCTAssertNil(BLASCore.cannotRun(recorded: "SkylakeX", hasAVX512: true, hasAVX2: true))
        XCTAssertNotNil(BLASCore.cannotRun(recorded: "cooperlake", hasAVX512: false, hasAVX2: true))
        XCTAssertTrue(
            try XCTUnwrap(BLASCore.cannotRun(recorded: "Haswell", hasAVX512: false, hasAVX2: false)).contains("AVX2"))
        XCTAssertNil(BLASCore.cannotRun(recorded: "Zen", hasAVX512: false, hasAVX2: true))
        XCTAssertNil(BLASCore.cannotRun(recorded: "Nehalem", hasAVX512: false, hasAVX2: false), "any x86-64")
        XCTAssertNil(BLASCore.cannotRun(recorded: "SomeFutureCore", hasAVX512: false, hasAVX2: false), "unknown")
    }

    /// A recording said to be made with AVX-512 kernels: refused up front on a CPU without AVX-512 (OpenBLAS would
    /// take the name and die of an illegal instruction), replayed with them on one that has it.
    func testAReplayOfAVX512KernelsOnThisCPU() throws {
        let copy = try temporaryDirectory("rpp-cli").appendingPathComponent("recording")
        try FileManager.default.copyItem(at: Fixtures.url("recording"), to: copy)
        let header = copy.appendingPathComponent("recording.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: header)) as? [String: Any])
        json["blas_core"] = "SkylakeX"
        try JSONSerialization.data(withJSONObject: json).write(to: header)
        let r = try RPP.run(["replay", copy.path])
        let refused = r.stderr.contains("which need AVX-512, and this CPU has none")
        XCTAssertEqual(refused, !OpenBLASTuning.cpuHasAVX512(), r.stdout + r.stderr)
        if refused {
            XCTAssertEqual(r.status, 1)
        } else {
            XCTAssertTrue(r.stdout.contains("OpenBLAS core SkylakeX (recorded SkylakeX)"), r.stdout + r.stderr)
        }
    }
}
