// Rule-based rewards on text: a verifier scores a decoded response against the example's label (the
// ground truth). Verifiers are pure values; a weighted sum combines them, and `VerifierSpec` reads the
// one-line form a run config uses, e.g. "0.9*numeric + 0.1*format:tags=answer".
import Foundation

/// Scores one decoded response against its label.
public protocol Verifier: Sendable {
    /// The reward of `response` given the ground truth `label`.
    func score(response: String, label: String) -> Double
}

/// Σ weight · score of its terms.
public struct WeightedSum: Verifier {
    /// The terms and their weights.
    public let terms: [(weight: Double, verifier: any Verifier)]

    /// A sum of weighted verifiers.
    public init(_ terms: [(weight: Double, verifier: any Verifier)]) { self.terms = terms }

    public func score(response: String, label: String) -> Double {
        terms.reduce(0) { $0 + $1.weight * $1.verifier.score(response: response, label: label) }
    }
}

/// A verifier named in a config that cannot be built; the message names the term and what is accepted.
public struct VerifierSpecError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// Parses verifier specs: terms joined by "+", each "[weight*]name[:option]".
///
/// Names: `numeric` (options `last`, `gsm8k`, `boxed`, `auto` — the default — or `tag=NAME`), `exact`
/// (option `nocase`), `choice` (a multiple-choice letter), `format` (options `number` — the answer
/// alone — or `tags=NAME,NAME...`).
public enum VerifierSpec {
    /// The names `parse` accepts, for error messages and help.
    public static let names = ["numeric", "exact", "choice", "format"]

    /// The verifier `spec` describes; one term without a weight is that verifier itself.
    public static func parse(_ spec: String) throws -> any Verifier {
        let parts = spec.split(separator: "+", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.contains(where: \.isEmpty) else {
            throw VerifierSpecError(
                message: "reward verifier \"\(spec)\": an empty term; write terms like 0.9*numeric + 0.1*format:number")
        }
        var terms: [(weight: Double, verifier: any Verifier)] = []
        for part in parts {
            var weight = 1.0
            var body = Substring(part)
            if let star = part.firstIndex(of: "*") {
                let w = part[..<star].trimmingCharacters(in: .whitespaces)
                guard let value = Double(w), value.isFinite else {
                    throw VerifierSpecError(
                        message: "reward verifier term \"\(part)\": weight \"\(w)\" is not a finite number")
                }
                weight = value
                body = part[part.index(after: star)...]
            }
            terms.append((weight, try term(body.trimmingCharacters(in: .whitespaces))))
        }
        if terms.count == 1 && !spec.contains("*") { return terms[0].verifier }
        return WeightedSum(terms)
    }

    private static func term(_ text: String) throws -> any Verifier {
        let name = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        let option = text.contains(":") ? String(text[text.index(after: text.firstIndex(of: ":")!)...]) : nil
        func bad(_ why: String) -> VerifierSpecError {
            VerifierSpecError(message: "reward verifier term \"\(text)\": \(why)")
        }
        switch name {
        case "numeric":
            guard let form = NumericAnswer.Extraction(option: option ?? "auto") else {
                throw bad("numeric takes last, gsm8k, boxed, auto or tag=NAME")
            }
            return NumericAnswer(extraction: form)
        case "exact":
            guard option == nil || option == "nocase" else { throw bad("exact takes no option or nocase") }
            return ExactAnswer(ignoringCase: option == "nocase")
        case "choice":
            guard option == nil else { throw bad("choice takes no option") }
            return ChoiceAnswer()
        case "format":
            if option == "number" { return FormatReward(.numberAlone) }
            if let o = option, o.hasPrefix("tags=") {
                let tags = o.dropFirst(5).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard !tags.isEmpty,
                    tags.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } })
                else {
                    throw bad("tags= needs tag names (letters, digits, _) separated by commas")
                }
                return FormatReward(.tags(tags))
            }
            throw bad("format takes number or tags=NAME,NAME...")
        default:
            throw bad("unknown verifier \"\(name)\"; known: \(names.joined(separator: ", "))")
        }
    }
}
