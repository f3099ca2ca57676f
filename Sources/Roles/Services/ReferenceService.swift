// The reference-policy server: per-token log-probs of the frozen starting policy, for the KL penalty.
// A request carries (prompt, response) token pairs; the reply has, per pair, log p_ref(response[j] |
// prompt, response[..<j]) for every response token, at the requested temperature.
import Foundation
import Model
import Wire

/// Answers `RefLogprobRequest`s with a frozen model.
public struct ReferenceService: Sendable {
    public let model: Transformer
    /// Tokens scored in one forward pass: a request's sequences are packed into passes of at most this many
    /// tokens (a longer sequence goes alone), so long responses do not grow the activations without bound.
    public let tokensPerPass: Int

    public init(model: Transformer, tokensPerPass: Int = 8192) {
        self.model = model
        self.tokensPerPass = max(1, tokensPerPass)
    }

    /// The handler for a `RequestServer`.
    public func handle(_ message: WireMessage) throws -> WireMessage {
        guard case .refLogprobRequest(let request) = message else {
            throw RemoteError(
                code: .badRequest,
                message: "the reference server answers ref_logprob_request, "
                    + "not \(message.kind.name)")
        }
        return .refLogprobReply(RefLogprobReply(id: request.id, logprobs: try logprobs(request)))
    }

    /// Reference log-probs of each sequence's response tokens.
    public func logprobs(_ request: RefLogprobRequest) throws -> [[Float]] {
        let c = model.config
        guard request.sequences.count <= RefLogprobRequest.maxSequences else {
            throw RemoteError(
                code: .badRequest,
                message: "\(request.sequences.count) sequences in one request; a "
                    + "reference server answers at most \(RefLogprobRequest.maxSequences) per request",
                requestID: request.id)
        }
        var rows: [[Int32]] = []
        rows.reserveCapacity(request.sequences.count)
        for (i, s) in request.sequences.enumerated() {
            guard !s.promptTokens.isEmpty, !s.responseTokens.isEmpty else {
                throw RemoteError(
                    code: .badRequest, message: "sequences[\(i)]: prompt and response must be non-empty",
                    requestID: request.id)
            }
            let row = s.promptTokens + s.responseTokens
            guard row.count <= c.maxPositionEmbeddings else {
                throw RemoteError(
                    code: .badRequest,
                    message: "sequences[\(i)]: \(row.count) tokens, the model takes "
                        + "at most \(c.maxPositionEmbeddings)", requestID: request.id)
            }
            if let bad = row.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw RemoteError(
                    code: .badRequest,
                    message: "sequences[\(i)]: token \(bad) is outside the "
                        + "vocabulary of \(c.vocabSize)", requestID: request.id)
            }
            rows.append(row)
        }
        // Scored from the last prompt position: row r's values are exactly its response tokens' log-probs.
        let scoreFrom = request.sequences.map { $0.promptTokens.count - 1 }
        var out: [[Float]] = []
        out.reserveCapacity(rows.count)
        for pass in Self.passes(rows.map(\.count), tokensPerPass: tokensPerPass) {
            out += try model.sequenceLogProbs(
                Array(rows[pass]), scoreFrom: Array(scoreFrom[pass]),
                temperature: request.temperature, forBackward: false
            ).logp
        }
        return out
    }

    /// Consecutive ranges of sequences whose lengths add up to at most `tokensPerPass` (a longer sequence alone).
    static func passes(_ lengths: [Int], tokensPerPass: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        var tokens = 0
        for (i, n) in lengths.enumerated() {
            if i > start && tokens + n > tokensPerPass {
                out.append(start..<i)
                start = i
                tokens = 0
            }
            tokens += n
        }
        if start < lengths.count { out.append(start..<lengths.count) }
        return out
    }
}
