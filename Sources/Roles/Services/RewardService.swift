// The reward server: scores (prompt, response, answer) items with a rule-based verifier, a learned reward model
// or a remote endpoint. A scorer takes the items of one request at once (a remote endpoint or a model scores
// a batch better than one item at a time); a per-item scorer is applied to every item.
import Foundation
import Wire

/// Scores one item.
public typealias Scorer = @Sendable (ScoreItem) throws -> Float
/// Scores the items of one request, in order.
public typealias BatchScorer = @Sendable ([ScoreItem]) throws -> [Float]

/// Answers `ScoreRequest`s.
public struct RewardService: Sendable {
    public let name: String
    public let scoreBatch: BatchScorer

    /// A server applying `score` to every item.
    public init(name: String, score: @escaping Scorer) {
        self.name = name
        scoreBatch = { items in try items.map(score) }
    }

    /// A server scoring each request's items together.
    public init(name: String, scoreBatch: @escaping BatchScorer) {
        self.name = name
        self.scoreBatch = scoreBatch
    }

    /// The handler for a `RequestServer`.
    public func handle(_ message: WireMessage) throws -> WireMessage {
        guard case .scoreRequest(let request) = message else {
            throw RemoteError(
                code: .badRequest, message: "the reward server answers score_request, not \(message.kind.name)")
        }
        guard request.items.count <= ScoreRequest.maxItems else {
            throw RemoteError(
                code: .badRequest,
                message: "\(request.items.count) items in one score request; a reward "
                    + "server scores at most \(ScoreRequest.maxItems) per request", requestID: request.id)
        }
        let rewards = try scoreBatch(request.items)
        guard rewards.count == request.items.count else {
            throw RemoteError(
                code: .internal,
                message: "\(name) gave \(rewards.count) rewards for \(request.items.count) "
                    + "items", requestID: request.id)
        }
        guard rewards.allSatisfy(\.isFinite) else {
            throw RemoteError(code: .internal, message: "\(name) gave a non-finite reward", requestID: request.id)
        }
        return .scoreReply(ScoreReply(id: request.id, rewards: rewards))
    }
}
