// sampleLogits against a plain reference of the same rule (candidates in index order, or most likely first
// when truncated; the first whose running sum passes u · total), with libm's expf and sums in double: the same
// token, and the log-prob to within float rounding.
import XCTest

@testable import Model

final class SamplingKernelTests: XCTestCase {
    /// The rule written out with arrays of candidates.
    func reference(_ z: [Float], _ o: SamplingOptions, u: Double) -> (Int32, Float) {
        let t = o.temperature > 0 ? o.temperature : 1
        var m = -Float.infinity
        var arg = 0
        for (j, x) in z.enumerated() where x / t > m {
            m = x / t
            arg = j
        }
        let lse = m + Float(log(z.reduce(0.0) { $0 + Double(expf($1 / t - m)) }))
        if o.temperature == 0 { return (Int32(arg), z[arg] / t - lse) }
        var cand = z.enumerated().map { ($0.offset, expf($0.element / t - lse)) }
        if o.topK > 0 || o.topP < 1 {
            cand.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
            if o.topK > 0 { cand = Array(cand.prefix(o.topK)) }
            if o.topP < 1 {
                var acc: Float = 0
                var keep = 0
                for (i, e) in cand.enumerated() {
                    acc += e.1
                    keep = i + 1
                    if acc >= o.topP { break }
                }
                cand = Array(cand.prefix(keep))
            }
        }
        var rest = u * cand.reduce(0.0) { $0 + Double($1.1) }
        var pick = cand.last!.0
        for (j, p) in cand {
            rest -= Double(p)
            if rest < 0 {
                pick = j
                break
            }
        }
        return (Int32(pick), z[pick] / t - lse)
    }

    func testMatchesTheReferenceRule() {
        var rng = Xoshiro256(seed: 8)
        let V = 1000
        let options = [
            SamplingOptions(temperature: 1, maxNewTokens: 1), SamplingOptions(temperature: 0.7, maxNewTokens: 1),
            SamplingOptions(temperature: 0, maxNewTokens: 1),
            SamplingOptions(temperature: 1, topP: 0.9, topK: 50, maxNewTokens: 1),
            SamplingOptions(temperature: 1.3, topP: 0.5, maxNewTokens: 1),
            SamplingOptions(temperature: 0.8, topK: 7, maxNewTokens: 1),
            SamplingOptions(temperature: 1, topP: 0.95, maxNewTokens: 1),
            SamplingOptions(temperature: 1, topP: 0.8, topK: 400, maxNewTokens: 1),
        ]
        var picks = Set<Int32>()
        for trial in 0..<70 {
            // Every third trial's logits are whole numbers: ties, which the candidates order by index.
            let z = (0..<V).map { _ in trial % 3 == 2 ? Float(rng.normal() * 3).rounded() : Float(rng.normal()) * 3 }
            let o = options[trial % options.count]
            for u in [0.0, rng.uniform(), rng.uniform(), 0.999_999_9] {
                let got = z.withUnsafeBufferPointer {
                    sampleLogits($0.baseAddress!, V: V, options: o, u: u)
                }
                let want = reference(z, o, u: u)
                XCTAssertEqual(got.0, want.0, "trial \(trial), u \(u)")
                XCTAssertEqual(got.1, want.1, accuracy: 2e-6 * max(1, abs(want.1)), "trial \(trial), u \(u)")
                picks.insert(got.0)
            }
        }
        XCTAssertGreaterThan(picks.count, 20, "the draws reach many different tokens")
    }
}
