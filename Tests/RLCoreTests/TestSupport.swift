// Helpers shared by the RL core tests: fixture cases (TestKit finds the files), finite differences, a seeded generator.
import Foundation
import TestKit
import XCTest

@testable import RLCore

enum FixtureError: Error {
    case notFound(String)
    case badField(String)
}

/// The JSON value of a fixture file.
func loadFixture(_ name: String) throws -> Any {
    let url = Fixtures.url("rlcore/\(name)")
    guard FileManager.default.fileExists(atPath: url.path) else { throw FixtureError.notFound(url.path) }
    return try JSONSerialization.jsonObject(with: Data(contentsOf: url))
}

/// The cases of a fixture file that holds a JSON array of objects.
func loadCases(_ name: String) throws -> [[String: Any]] {
    guard let cases = try loadFixture(name) as? [[String: Any]], !cases.isEmpty else {
        throw FixtureError.badField("\(name): expected a non-empty array of cases")
    }
    return cases
}

extension Dictionary where Key == String, Value == Any {
    func double(_ key: String) throws -> Double {
        guard let x = self[key] as? NSNumber else { throw FixtureError.badField(key) }
        return x.doubleValue
    }
    func optionalDouble(_ key: String) -> Double? { (self[key] as? NSNumber)?.doubleValue }
    func string(_ key: String) throws -> String {
        guard let x = self[key] as? String else { throw FixtureError.badField(key) }
        return x
    }
    func vector(_ key: String) throws -> [Double] {
        guard let x = self[key] as? [NSNumber] else { throw FixtureError.badField(key) }
        return x.map(\.doubleValue)
    }
    /// A B×T matrix flattened row-major, with its shape.
    func matrix(_ key: String) throws -> (values: [Double], shape: TokenShape) {
        guard let rows = self[key] as? [[NSNumber]] else { throw FixtureError.badField(key) }
        let t = rows.first?.count ?? 0
        return (rows.flatMap { $0.map(\.doubleValue) }, TokenShape(samples: rows.count, tokens: t))
    }
    func optionalMatrix(_ key: String) throws -> [Double]? {
        self[key] == nil || self[key] is NSNull ? nil : try matrix(key).values
    }
    func object(_ key: String) throws -> [String: Any] {
        guard let x = self[key] as? [String: Any] else { throw FixtureError.badField(key) }
        return x
    }
}

/// Central finite difference of `f` with respect to element `i` of `x`.
func finiteDifference(_ x: [Double], _ i: Int, h: Double = 1e-6, _ f: ([Double]) throws -> Double) rethrows -> Double {
    var plus = x
    var minus = x
    plus[i] += h
    minus[i] -= h
    return (try f(plus) - f(minus)) / (2 * h)
}

/// Checks an analytic gradient against central differences at every position (padding included: it must be 0).
func checkGradient(
    _ x: [Double], analytic: [Double], tol: Double = 1e-6, _ what: String,
    file: StaticString = #filePath, line: UInt = #line, _ f: ([Double]) throws -> Double
) throws {
    XCTAssertEqual(x.count, analytic.count, "\(what): gradient length", file: file, line: line)
    for i in x.indices {
        let numeric = try finiteDifference(x, i, f)
        if !(abs(numeric - analytic[i]) <= tol * max(1, abs(numeric))) {
            XCTFail("\(what): d/dx[\(i)] analytic \(analytic[i]) vs numeric \(numeric)", file: file, line: line)
            return
        }
    }
}

/// A deterministic generator for property tests (SplitMix64).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { Double.random(in: lo..<hi, using: &self) }
    mutating func normal() -> Double {
        let u = max(uniform(0, 1), 1e-300)
        let v = uniform(0, 1)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
    /// A B×T mask mixing right padding, left padding, holes and (if b > 2) one empty row.
    mutating func mask(_ shape: TokenShape) -> [Double] {
        var m = [Double](repeating: 0, count: shape.count)
        for b in 0..<shape.samples {
            let len = Int.random(in: 1...shape.tokens, using: &self)
            for t in 0..<shape.tokens {
                switch b % 3 {
                case 0: m[b * shape.tokens + t] = t < len ? 1 : 0
                case 1: m[b * shape.tokens + t] = t >= shape.tokens - len ? 1 : 0
                default: m[b * shape.tokens + t] = uniform(0, 1) < 0.7 ? 1 : 0
                }
            }
        }
        if shape.samples > 2 {
            for t in 0..<shape.tokens { m[(shape.samples - 1) * shape.tokens + t] = 0 }
        }
        return m
    }
}

/// Masked mean and population variance.
func maskedMoments<S: RLScalar>(_ x: [S], _ mask: [Double]) -> (mean: Double, variance: Double) {
    var n = 0.0
    var s = 0.0
    for (v, m) in zip(x, mask) where m != 0 {
        n += 1
        s += v.rlDouble
    }
    let mean = s / n
    var ss = 0.0
    for (v, m) in zip(x, mask) where m != 0 { ss += (v.rlDouble - mean) * (v.rlDouble - mean) }
    return (mean, ss / n)
}
