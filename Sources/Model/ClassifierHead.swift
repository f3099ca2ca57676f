// ClassifierHead: what a Hugging Face `...ForSequenceClassification` config.json says beyond the decoder
// trunk (its architecture, its number of labels and its pad token), read as transformers reads them, and the
// rule by which transformers picks the position whose logits are a sequence's score.
import Foundation

/// The classification head of a sequence-classification checkpoint, as declared by its config.json.
public struct ClassifierHead: Sendable, Equatable {
    /// The class transformers builds (`architectures[0]`, e.g. LlamaForSequenceClassification); nil for an rpp
    /// config that says `rpp_scalar_head: true` without naming one.
    public var architecture: String?
    /// Number of labels: rows of `score.weight` [numLabels, hidden].
    public var numLabels: Int
    /// Label names by index (`id2label`), "LABEL_i" when the config gives none.
    public var labels: [String]
    /// `pad_token_id`: the token transformers skips when it looks for a row's last token; nil when unset.
    public var padTokenID: Int?

    /// The largest number of labels accepted.
    public static let maxLabels = 1 << 16

    /// A head of `numLabels` labels.
    public init(architecture: String?, numLabels: Int, labels: [String]? = nil, padTokenID: Int?) {
        self.architecture = architecture
        self.numLabels = numLabels
        self.labels = labels ?? (0..<numLabels).map { "LABEL_\($0)" }
        self.padTokenID = padTokenID
    }

    /// Reads the head from config.json's bytes. Throws `ClassifierError` (code `.notClassifier`) when the config
    /// describes another kind of model (a `...ForCausalLM`), and `.invalidConfig` when its label or pad fields
    /// are malformed. The number of labels is that of `id2label` when present (transformers ignores a
    /// disagreeing `num_labels`), else `num_labels`, else 2 (transformers' default).
    public init(configJSON data: Data, directory: String) throws {
        func fail(_ code: ClassifierError.Code, _ message: String) -> ClassifierError {
            ClassifierError(code, directory: directory, message)
        }
        guard let any = try? JSONSerialization.jsonObject(with: data), let raw = any as? [String: Any] else {
            throw fail(.invalidConfig, "config.json is not a JSON object")
        }
        let d = raw.filter { !($0.value is NSNull) }
        var architecture: String?
        if let value = d["architectures"] {
            guard let archs = value as? [String], !archs.isEmpty else {
                throw fail(.invalidConfig, "config.json: architectures must be a non-empty list of class names")
            }
            guard let name = archs.first(where: { $0.hasSuffix("ForSequenceClassification") }) else {
                throw fail(
                    .notClassifier,
                    "config.json names \(archs.joined(separator: ", ")), not a "
                        + "...ForSequenceClassification model: a classifier reward needs a checkpoint with a "
                        + "score head (score.weight), such as one saved by transformers' "
                        + "AutoModelForSequenceClassification or by `rpp rm-train`")
            }
            architecture = name
        } else if (d["rpp_scalar_head"] as? Bool) != true {
            throw fail(
                .notClassifier,
                "config.json has no architectures field (and no rpp_scalar_head: true): "
                    + "give a ...ForSequenceClassification checkpoint")
        }
        var labels: [String]?
        if let value = d["id2label"] {
            guard let map = value as? [String: Any], !map.isEmpty else {
                throw fail(.invalidConfig, "config.json: id2label must be a non-empty object {\"0\": name, ...}")
            }
            var names = [String?](repeating: nil, count: map.count)
            for (key, name) in map {
                guard let i = Int(key), (0..<map.count).contains(i), names[i] == nil else {
                    throw fail(.invalidConfig, "config.json: id2label keys must be 0..<\(map.count) (found \"\(key)\")")
                }
                names[i] = (name as? String) ?? "\(name)"
            }
            labels = names.map { $0! }
        }
        let count: Int
        if let labels {
            count = labels.count
        } else if let value = d["num_labels"] {
            guard let n = value as? NSNumber, let i = exactInteger(n), i >= 1 else {
                throw fail(.invalidConfig, "config.json: num_labels must be a positive integer (found \(value))")
            }
            count = i
        } else {
            count = 2
        }
        guard count <= Self.maxLabels else {
            throw fail(.invalidConfig, "config.json declares \(count) labels, more than \(Self.maxLabels)")
        }
        var pad: Int?
        if let value = d["pad_token_id"] {
            guard let n = value as? NSNumber, let i = exactInteger(n) else {
                throw fail(.invalidConfig, "config.json: pad_token_id must be an integer or null (found \(value))")
            }
            pad = i
        }
        self.init(architecture: architecture, numLabels: count, labels: labels, padTokenID: pad)
    }

    /// The position whose logits transformers returns for `tokens` (one sequence without padding, or one row
    /// of a padded batch): the rightmost token that is not `padTokenID`, position 0 when every token is the pad
    /// token, and the last position when there is no pad token. So a text that ends in the pad token (as when
    /// the pad token is also EOS) is scored at the token before it.
    public func poolingIndex(_ tokens: [Int32]) -> Int {
        guard let pad = padTokenID else { return max(tokens.count - 1, 0) }
        return tokens.lastIndex { Int($0) != pad } ?? 0
    }
}

/// Why a sequence-classification checkpoint cannot be loaded or scored; the message names the directory.
public struct ClassifierError: Error, CustomStringConvertible, Equatable {
    /// The kind of problem.
    public enum Code: Sendable, Equatable {
        /// The directory holds another kind of model (a language model, no score head).
        case notClassifier
        /// config.json is unreadable or malformed.
        case invalidConfig
        /// The weights are missing, malformed or disagree with config.json.
        case invalidCheckpoint
        /// A sequence to score is empty, too long or holds an id outside the vocabulary.
        case invalidInput
    }

    public let code: Code
    /// The checkpoint directory.
    public let directory: String
    /// What is wrong and what to do.
    public let message: String

    /// An error of `code` about the checkpoint in `directory`.
    public init(_ code: Code, directory: String, _ message: String) {
        self.code = code
        self.directory = directory
        self.message = message
    }

    public var description: String { "sequence classifier \(directory): \(message)" }
}
