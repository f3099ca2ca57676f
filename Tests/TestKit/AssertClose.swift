// Tolerant comparisons of floating-point results: |actual - expected| ≤ tol + rel · |expected| for every element,
// and on failure one message with the first element outside, how many are outside and the largest difference.
import XCTest

/// What is wrong (a length mismatch, or the first element outside the tolerance, how many are outside and the
/// largest difference), or nil when every element is close.
public func closeness<A: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [Double], tol: Double = 0, rel: Double = 0
) -> String? {
    if actual.count != expected.count { return ": \(actual.count) values, expected \(expected.count)" }
    var first: String?
    var outside = 0
    var worst = 0.0
    var worstIndex = 0
    for i in actual.indices {
        let a = Double(actual[i])
        let e = expected[i]
        if a.isNaN && e.isNaN { continue }
        let diff = abs(a - e)
        if diff.isNaN || diff > worst {
            worst = diff
            worstIndex = i
        }
        guard !(diff <= tol + rel * abs(e)) else { continue }
        outside += 1
        if first == nil { first = "[\(i)]: got \(a), expected \(e) (difference \(diff))" }
    }
    guard let first else { return nil }
    return "\(first); \(outside) of \(actual.count) outside tol \(tol) + rel \(rel)·|expected|; "
        + "largest difference \(worst) at [\(worstIndex)]"
}

/// Asserts |actual[i] - expected[i]| ≤ tol + rel · |expected[i]| for every i (NaN only matches NaN), naming the
/// first element outside, the count outside and the largest difference.
public func assertClose<A: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [Double], tol: Double = 0, rel: Double = 0, _ what: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    if let failure = closeness(actual, expected, tol: tol, rel: rel) {
        XCTFail("\(what.isEmpty ? "values" : what)\(failure)", file: file, line: line)
    }
}

/// Asserts |actual - expected| ≤ tol + rel · |expected| for one value (NaN only matches NaN).
public func assertClose<A: BinaryFloatingPoint>(
    _ actual: A, _ expected: Double, tol: Double = 0, rel: Double = 0, _ what: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    let a = Double(actual)
    let e = expected
    if a.isNaN && e.isNaN { return }
    let diff = abs(a - e)
    if !(diff <= tol + rel * abs(e)) {
        XCTFail(
            "\(what.isEmpty ? "" : "\(what): ")got \(a), expected \(e) (difference \(diff), tol \(tol) + rel \(rel)·|expected|)",
            file: file, line: line)
    }
}
