// ClassifierReward: a learned reward from a Hugging Face `...ForSequenceClassification` checkpoint with one
// label, scored on text as transformers would: the text prompt + response is tokenised with the reward
// model's own tokenizer as `tokenizer(text)` does (the post-processor's special tokens included), and the
// reward is the model's logit at the sequence's last token that is not the pad token.
//
// Truncation: a text longer than `maxTokens` (max_position_embeddings unless set lower) keeps its end, where
// the response is and where the score is read. Tokens are dropped from the start of the text, after the
// special tokens the post-processor puts first, as `tokenizer(text, truncation=True, max_length=maxTokens,
// truncation_side="left")` does.
import Foundation
import Model
import Tokenizers

/// A reward model that scores (prompt text, response text) pairs. Thread-safe: the model runs one batch at a
/// time (tokenising runs on the calling thread); async code should call it off the cooperative pool (for
/// instance through `classifier.perform`).
public struct ClassifierReward: Sendable {
    /// The classifier (one label).
    public let classifier: SequenceClassifier
    /// The reward model's own tokenizer.
    public let tokenizer: LoadedTokenizer
    /// The most tokens a scored sequence keeps (special tokens included).
    public let maxTokens: Int
    /// The most tokens one forward pass packs (a single longer sequence runs alone).
    public let batchTokens: Int

    /// Activation memory one forward pass may take unless told otherwise (1 GiB): it sets the default
    /// `batchTokens`.
    public static let defaultActivationBytes = 1 << 30

    /// A reward from a loaded classifier and its tokenizer. `maxTokens` (default and upper bound: the
    /// model's max_position_embeddings) must leave room for one token besides the post-processor's special
    /// tokens. `batchTokens` defaults to what fits in `defaultActivationBytes`. Throws when the classifier has
    /// more than one label.
    public init(
        classifier: SequenceClassifier, tokenizer: LoadedTokenizer, maxTokens: Int? = nil,
        batchTokens: Int? = nil
    ) throws(ClassifierRewardError) {
        let dir = classifier.directory.path
        guard classifier.numLabels == 1 else {
            let labels = classifier.head.labels.prefix(8).joined(separator: ", ")
            throw ClassifierRewardError(
                "\(dir): the model has \(classifier.numLabels) labels (\(labels)); a reward is one logit, so the "
                    + "checkpoint must have num_labels 1 (a reward model trained as regression or Bradley-Terry)")
        }
        let limit = maxTokens ?? classifier.maxTokens
        let specials = tokenizer.tokenizer.addingSpecialTokens([]).count
        guard limit > specials, limit <= classifier.maxTokens else {
            throw ClassifierRewardError(
                "\(dir): max tokens \(limit) must be in \(specials + 1)...\(classifier.maxTokens) (above the "
                    + "\(specials) special tokens the tokenizer adds, at most max_position_embeddings)")
        }
        let batch = batchTokens ?? classifier.tokens(withinActivationBytes: Self.defaultActivationBytes)
        guard batch >= 1 else { throw ClassifierRewardError("\(dir): batch tokens must be positive") }
        self.classifier = classifier
        self.tokenizer = tokenizer
        self.maxTokens = limit
        self.batchTokens = batch
    }

    /// Loads the classifier and the tokenizer (tokenizer.json, tokenizer_config.json) of `directory`.
    public static func load(
        directory: URL, maxTokens: Int? = nil,
        batchTokens: Int? = nil
    ) throws(ClassifierRewardError) -> ClassifierReward {
        let classifier: SequenceClassifier
        do { classifier = try SequenceClassifier.load(directory: directory) } catch {
            throw ClassifierRewardError("\(error)")
        }
        let tokenizer: LoadedTokenizer
        do { tokenizer = try LoadedTokenizer(path: directory.path) } catch {
            throw ClassifierRewardError("\(directory.path): the reward model's tokenizer: \(error)")
        }
        return try ClassifierReward(
            classifier: classifier, tokenizer: tokenizer, maxTokens: maxTokens,
            batchTokens: batchTokens)
    }

    /// The token ids the model scores for `prompt` + `response`: transformers' `tokenizer(prompt + response)`,
    /// truncated from the left to `maxTokens` (see the file header).
    public func tokens(prompt: String, response: String) throws(ClassifierRewardError) -> [Int32] {
        let content: [Int]
        do { content = try tokenizer.tokenizer.encode(prompt + response, addSpecialTokens: false) } catch {
            throw ClassifierRewardError("\(classifier.directory.path): cannot tokenise the text: \(error)")
        }
        let ids = Self.truncated(
            content, maxTokens: maxTokens,
            addSpecialTokens: tokenizer.tokenizer.addingSpecialTokens)
        return ids.map { Int32(truncatingIfNeeded: $0) }
    }

    /// `addSpecialTokens(content)`, after dropping the fewest tokens from the start of `content` that bring it
    /// to at most `maxTokens` (the special tokens are kept; `maxTokens` leaves room for them).
    static func truncated(_ content: [Int], maxTokens: Int, addSpecialTokens: ([Int]) -> [Int]) -> [Int] {
        let full = addSpecialTokens(content)
        guard full.count > maxTokens else { return full }
        let specials = full.count - content.count
        return addSpecialTokens(Array(content.suffix(max(maxTokens - specials, 0))))
    }

    /// Consecutive ranges of `lengths` whose sum stays within `budget` (a longer item forms a range alone).
    static func batches(lengths: [Int], budget: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        var total = 0
        for (i, n) in lengths.enumerated() {
            if i > start && total + n > budget {
                out.append(start..<i)
                start = i
                total = 0
            }
            total += n
        }
        if start < lengths.count { out.append(start..<lengths.count) }
        return out
    }

    /// The rewards of (prompts[i], responses[i]) pairs, in order; the counts must match.
    public func scores(prompts: [String], responses: [String]) throws(ClassifierRewardError) -> [Float] {
        try Self.run(classifier, try rows(prompts: prompts, responses: responses), batchTokens: batchTokens)
    }

    /// The reward of one pair.
    public func score(prompt: String, response: String) throws(ClassifierRewardError) -> Float {
        try scores(prompts: [prompt], responses: [response])[0]
    }

    private func rows(prompts: [String], responses: [String]) throws(ClassifierRewardError) -> [[Int32]] {
        guard prompts.count == responses.count else {
            throw ClassifierRewardError("\(prompts.count) prompts for \(responses.count) responses")
        }
        var rows: [[Int32]] = []
        rows.reserveCapacity(prompts.count)
        for (i, (prompt, response)) in zip(prompts, responses).enumerated() {
            let ids = try tokens(prompt: prompt, response: response)
            guard !ids.isEmpty else {
                throw ClassifierRewardError(
                    "\(classifier.directory.path): pair \(i) has no tokens (empty prompt and "
                        + "response, and the tokenizer adds no special token)")
            }
            rows.append(ids)
        }
        return rows
    }

    private static func run(
        _ classifier: SequenceClassifier, _ rows: [[Int32]],
        batchTokens: Int
    ) throws(ClassifierRewardError) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(rows.count)
        for range in batches(lengths: rows.map(\.count), budget: batchTokens) {
            do { out += try classifier.scores(Array(rows[range])).map { $0[0] } } catch {
                let which =
                    range.count == 1
                    ? "pair \(range.lowerBound)" : "pairs \(range.lowerBound)..<\(range.upperBound)"
                throw ClassifierRewardError("\(which): \(error)")
            }
        }
        return out
    }
}

/// Why a classifier reward cannot be built or cannot score; the message names the directory.
public struct ClassifierRewardError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
