import Foundation

/// A numeric range a config value must lie in, with the wording used in error messages.
struct Bound<T: Comparable & Sendable>: Sendable {
    let lower: T?, lowerInclusive: Bool
    let upper: T?, upperInclusive: Bool

    static func atLeast(_ v: T) -> Bound { Bound(lower: v, lowerInclusive: true, upper: nil, upperInclusive: false) }
    static func above(_ v: T) -> Bound { Bound(lower: v, lowerInclusive: false, upper: nil, upperInclusive: false) }
    static func closed(_ a: T, _ b: T) -> Bound {
        Bound(lower: a, lowerInclusive: true, upper: b, upperInclusive: true)
    }
    static func open(_ a: T, _ b: T) -> Bound {
        Bound(lower: a, lowerInclusive: false, upper: b, upperInclusive: false)
    }
    static func openClosed(_ a: T, _ b: T) -> Bound {
        Bound(lower: a, lowerInclusive: false, upper: b, upperInclusive: true)
    }
    static func closedOpen(_ a: T, _ b: T) -> Bound {
        Bound(lower: a, lowerInclusive: true, upper: b, upperInclusive: false)
    }

    func contains(_ v: T) -> Bool {
        if let lower, lowerInclusive ? v < lower : v <= lower { return false }
        if let upper, upperInclusive ? v > upper : v >= upper { return false }
        return true
    }

    var wording: String {
        func show(_ v: T) -> String {
            if let d = v as? Double, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return "\(v)"
        }
        let lower = self.lower.map(show)
        let upper = self.upper.map(show)
        switch (lower, upper) {
        case (let l?, let u?): return "in \(lowerInclusive ? "[" : "(")\(l), \(u)\(upperInclusive ? "]" : ")")"
        case (let l?, nil): return lowerInclusive ? ">= \(l)" : "> \(l)"
        case (nil, let u?): return upperInclusive ? "<= \(u)" : "< \(u)"
        case (nil, nil): return "any value"
        }
    }
}

/// Reads the keys of one config section with types, defaults and ranges; every key asked for
/// is an allowed key, and `finish()` rejects the rest.
struct SectionReader {
    let section: String
    private let entries: [(key: String, value: ConfigNode)]
    private(set) var allowed: [String] = []
    /// Where each key's value came from, by full key path.
    private(set) var locations: [String: String] = [:]

    init(section: String, node: ConfigNode?) throws {
        self.section = section
        switch node?.kind {
        case nil, .null?: entries = []
        case .mapping(let pairs)?: entries = pairs
        default:
            throw ConfigError(
                key: section, message: "expected a mapping of keys (found '\(node!.display)')",
                location: node?.location)
        }
    }

    private mutating func raw(_ key: String) -> ConfigNode? {
        allowed.append(key)
        guard let node = entries.last(where: { $0.key == key })?.value else { return nil }
        if let location = node.location { locations[section + "." + key] = location }
        if case .null = node.kind { return nil }
        return node
    }

    func fail(_ key: String, _ node: ConfigNode?, _ message: String) -> ConfigError {
        ConfigError(key: section + "." + key, message: message, location: node?.location)
    }

    private func scalar(_ key: String, _ node: ConfigNode, expected: String) throws -> (String, Bool) {
        guard case .scalar(let text, let quoted) = node.kind else {
            throw fail(key, node, "expected \(expected), found '\(node.display)'")
        }
        return (text, quoted)
    }

    private func parseInt(_ key: String, _ node: ConfigNode, expected: String = "an integer") throws -> Int {
        let (text, quoted) = try scalar(key, node, expected: expected)
        guard !quoted, let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw fail(key, node, "expected \(expected), found '\(node.display)'")
        }
        return value
    }

    private func parseDouble(_ key: String, _ node: ConfigNode, expected: String = "a number") throws -> Double {
        let (text, quoted) = try scalar(key, node, expected: expected)
        guard !quoted, let value = Double(text), value.isFinite else {
            throw fail(key, node, "expected \(expected), found '\(node.display)'")
        }
        return value
    }

    private func check<T>(_ key: String, _ node: ConfigNode, _ value: T, _ bound: Bound<T>?) throws {
        if let bound, !bound.contains(value) {
            throw fail(key, node, "value \(node.display) is out of range: must be \(bound.wording)")
        }
    }

    mutating func int(_ key: String, _ fallback: Int, _ bound: Bound<Int>? = nil) throws -> Int {
        guard let node = raw(key) else { return fallback }
        let value = try parseInt(key, node)
        try check(key, node, value, bound)
        return value
    }

    mutating func double(_ key: String, _ fallback: Double, _ bound: Bound<Double>? = nil) throws -> Double {
        guard let node = raw(key) else { return fallback }
        let value = try parseDouble(key, node)
        try check(key, node, value, bound)
        return value
    }

    mutating func optionalDouble(_ key: String, _ bound: Bound<Double>? = nil) throws -> Double? {
        guard let node = raw(key) else { return nil }
        let value = try parseDouble(key, node)
        try check(key, node, value, bound)
        return value
    }

    mutating func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        guard let node = raw(key) else { return fallback }
        let (text, quoted) = try scalar(key, node, expected: "true or false")
        switch quoted ? "" : text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(key, node, "expected true or false, found '\(node.display)'")
        }
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let node = raw(key) else { return nil }
        let (text, _) = try scalar(key, node, expected: "a string")
        if text.isEmpty { throw fail(key, node, "must not be empty (leave the key out instead)") }
        return text
    }

    /// An optional string whose key, once written, must carry a value: `key=` on the command line or `key:` in
    /// YAML fails with `whenEmpty` instead of reading as "not set".
    mutating func optionalGivenString(_ key: String, _ whenEmpty: String) throws -> String? {
        if let node = entries.last(where: { $0.key == key })?.value, case .null = node.kind {
            allowed.append(key)
            throw fail(key, node, whenEmpty)
        }
        return try optionalString(key)
    }

    mutating func string(_ key: String, _ fallback: String) throws -> String {
        try optionalString(key) ?? fallback
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ fallback: E) throws -> E
    where E.RawValue == String {
        guard let node = raw(key) else { return fallback }
        let (text, _) = try scalar(key, node, expected: "one of " + E.allCases.map(\.rawValue).joined(separator: ", "))
        if let value = E(rawValue: text) { return value }
        let names = E.allCases.map(\.rawValue)
        if let current = RunConfig.renamedValues[section + "." + key]?[text] {
            throw fail(
                key, node,
                "value '\(text)' is a former name: write '\(current)' (the same setting under its current name); "
                    + "allowed: " + names.joined(separator: ", "))
        }
        throw fail(
            key, node,
            "value '\(text)' is not allowed\(Suggest.hint(for: text, in: names)); allowed: "
                + names.joined(separator: ", "))
    }

    private mutating func list(_ key: String, expected: String) throws -> (ConfigNode, [ConfigNode])? {
        guard let node = raw(key) else { return nil }
        switch node.kind {
        case .sequence(let items): return (node, items)
        case .scalar: return (node, [node])  // a single value stands for a one-element list
        default: throw fail(key, node, "expected \(expected), found '\(node.display)'")
        }
    }

    mutating func optionalInt(_ key: String, _ bound: Bound<Int>? = nil) throws -> Int? {
        guard raw(key) != nil else { return nil }
        return try int(key, 0, bound)
    }

    mutating func optionalInts(_ key: String, each bound: Bound<Int>? = nil) throws -> [Int]? {
        guard raw(key) != nil else { return nil }
        return try ints(key, [], each: bound)
    }

    mutating func ints(_ key: String, _ fallback: [Int], each bound: Bound<Int>? = nil) throws -> [Int] {
        guard let (_, items) = try list(key, expected: "a list of integers like [1, 2]") else { return fallback }
        return try items.map { item in
            let value = try parseInt(key, item, expected: "a list of integers like [1, 2]")
            try check(key, item, value, bound)
            return value
        }
    }

    mutating func doubles(
        _ key: String, _ fallback: [Double], count: Int,
        each bound: Bound<Double>
    ) throws -> [Double] {
        guard let (node, items) = try list(key, expected: "a list of \(count) numbers") else { return fallback }
        guard items.count == count else {
            throw fail(key, node, "expected a list of \(count) numbers, found \(items.count) ('\(node.display)')")
        }
        return try items.map { item in
            let value = try parseDouble(key, item, expected: "a list of \(count) numbers")
            try check(key, item, value, bound)
            return value
        }
    }

    mutating func strings(_ key: String, _ fallback: [String], allowed choices: [String]? = nil) throws -> [String] {
        guard let (node, items) = try list(key, expected: "a list of strings") else { return fallback }
        if items.isEmpty { throw fail(key, node, "must list at least one value") }
        return try items.map { item in
            let (text, _) = try scalar(key, item, expected: "a list of strings")
            if let choices, !choices.contains(text) {
                throw fail(
                    key, item,
                    "value '\(text)' is not allowed\(Suggest.hint(for: text, in: choices)); allowed: "
                        + choices.joined(separator: ", "))
            }
            return text
        }
    }

    /// Rejects keys that no getter asked for, naming the closest allowed key.
    func finish() throws {
        for (key, node) in entries where !allowed.contains(key) {
            throw fail(
                key, node,
                "unknown key\(Suggest.hint(for: key, in: allowed)); allowed keys in '\(section)': "
                    + allowed.joined(separator: ", "))
        }
    }
}
