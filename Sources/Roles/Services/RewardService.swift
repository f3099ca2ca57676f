// The reward server: scores (prompt, response, answer) items with a rule-based verifier or a learned
// reward model. Scoring is a function of one item; the server applies it to every item of a request.
import Foundation
import Wire

/// Scores one item.
public typealias Scorer = @Sendable (ScoreItem) throws -> Float

/// Answers `ScoreRequest`s.
public struct RewardService: Sendable {
    public let name: String
    public let score: Scorer

    public init(name: String, score: @escaping Scorer) {
        self.name = name
        self.score = score
    }

    /// The handler for a `RequestServer`.
    public func handle(_ message: WireMessage) throws -> WireMessage {
        guard case .scoreRequest(let request) = message else {
            throw RemoteError(code: .badRequest, message: "the reward server answers score_request, not \(message.kind.name)")
        }
        guard request.items.count <= ScoreRequest.maxItems else {
            throw RemoteError(code: .badRequest, message: "\(request.items.count) items in one score request; a reward "
                              + "server scores at most \(ScoreRequest.maxItems) per request", requestID: request.id)
        }
        let rewards = try request.items.map { item -> Float in
            let r = try score(item)
            guard r.isFinite else {
                throw RemoteError(code: .internal, message: "\(name) gave a non-finite reward", requestID: request.id)
            }
            return r
        }
        return .scoreReply(ScoreReply(id: request.id, rewards: rewards))
    }
}
