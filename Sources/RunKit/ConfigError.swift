import Foundation

/// A problem with a run configuration: a malformed file, an unknown key, a bad value or a
/// combination of values that cannot work. `description` is one line that says what to change.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The full key path the problem is about (`algorithm.estimator`), or "" for the file as a whole.
    public let key: String
    /// What is wrong and what to do about it.
    public let message: String
    /// Where the value came from (`rpp.yaml:12`, `command line`), when known.
    public let location: String?

    /// Makes an error about `key`.
    public init(key: String, message: String, location: String? = nil) {
        self.key = key
        self.message = message
        self.location = location
    }

    /// `location: key: message` on one line.
    public var description: String {
        var parts: [String] = []
        if let location { parts.append(location) }
        if !key.isEmpty { parts.append(key) }
        parts.append(message.replacingOccurrences(of: "\n", with: " "))
        return parts.joined(separator: ": ")
    }
}

/// Edit distance and "did you mean" suggestions for unknown keys and values.
enum Suggest {
    /// Levenshtein distance between two strings (by Unicode scalars).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars)
        let y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The closest candidate when it is close enough to be a likely typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(2, word.count / 3)
        if best.1 <= limit { return best.0 }
        // A prefix or containment (`lr` for `critic_lr`) is also a good hint.
        return candidates.first { $0.hasPrefix(word) || (word.count >= 3 && $0.contains(word)) }
    }

    /// " (did you mean 'x'?)" or "".
    static func hint(for word: String, in candidates: [String]) -> String {
        closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }
}
