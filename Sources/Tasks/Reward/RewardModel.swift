// The Bradley-Terry reward model: a transformer with a scalar head whose value at the last token of
// prompt + response is the reward. Also the pairwise loss with its hand-derived gradient, the reward
// statistics stored beside a checkpoint (reward_stats.json) for normalisation, and the reward server's
// scorer.
import Foundation
import Model
import Roles
import Wire

/// The Bradley-Terry pairwise loss −log σ(r_c − r_r) and its gradient.
public enum BradleyTerry {
    /// Loss and (∂L/∂r_chosen, ∂L/∂r_rejected). With m = r_c − r_r: L = softplus(−m) (computed stably),
    /// ∂L/∂r_c = −σ(−m), ∂L/∂r_r = σ(−m).
    public static func loss(chosen: Float, rejected: Float) -> (loss: Float, dChosen: Float, dRejected: Float) {
        let m = Double(chosen) - Double(rejected)
        let loss = max(-m, 0) + log1p(exp(-abs(m)))
        let s = m >= 0 ? exp(-m) / (1 + exp(-m)) : 1 / (1 + exp(m))  // σ(−m)
        return (Float(loss), Float(-s), Float(s))
    }
}

/// Mean and standard deviation of the rewards over the training responses, for normalisation.
public struct RewardStats: Sendable, Equatable, Codable {
    public var mean: Double
    public var std: Double
    /// Responses the statistics are over.
    public var count: Int

    /// The file name beside the checkpoint.
    public static let fileName = "reward_stats.json"

    public init(mean: Double, std: Double, count: Int) {
        self.mean = mean
        self.std = std
        self.count = count
    }

    /// Statistics of `rewards` (population standard deviation).
    public init(rewards: [Float]) {
        let n = Double(max(rewards.count, 1))
        let mean = rewards.reduce(0.0) { $0 + Double($1) } / n
        let variance = rewards.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        self.init(mean: mean, std: variance.squareRoot(), count: rewards.count)
    }

    /// (r − mean) / std, with std floored at 1e-6.
    public func normalize(_ r: Float) -> Float { Float((Double(r) - mean) / max(std, 1e-6)) }

    /// Writes `directory/reward_stats.json`.
    public func save(directory: URL) throws(RewardModelError) {
        let url = directory.appendingPathComponent(Self.fileName)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch { throw RewardModelError("cannot write \(url.path): \(ioReason(error))") }
    }

    /// Reads `directory/reward_stats.json`; nil when there is none, an error when it is malformed.
    public static func load(directory: URL) throws(RewardModelError) -> RewardStats? {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        guard let s = try? JSONDecoder().decode(RewardStats.self, from: data), s.mean.isFinite, s.std.isFinite,
            s.std >= 0
        else {
            throw RewardModelError("\(url.path): expected {\"mean\", \"std\", \"count\"} with finite numbers")
        }
        return s
    }
}

/// A scalar-head transformer used as a reward model; thread-safe (calls are serialised).
public final class RewardModel: @unchecked Sendable {
    public let transformer: Transformer
    /// Statistics for normalisation (from reward_stats.json), if known.
    public let stats: RewardStats?
    private let lock = NSLock()

    /// Wraps a scalar-head model.
    public init(transformer: Transformer, stats: RewardStats? = nil) throws(RewardModelError) {
        guard transformer.config.scalarHead else {
            throw RewardModelError(
                "the reward model needs a scalar head (config rpp_scalar_head / ...ForSequenceClassification); "
                    + "train one with `rpp rm-train`")
        }
        self.transformer = transformer
        self.stats = stats
    }

    /// Loads a checkpoint directory and its reward_stats.json (if any); errors name the path.
    public static func load(directory: URL) throws(RewardModelError) -> RewardModel {
        let model: Transformer
        do { model = try Transformer.load(directory: directory) } catch {
            throw RewardModelError("reward model \(directory.path): \(error)")
        }
        do { return try RewardModel(transformer: model, stats: try RewardStats.load(directory: directory)) } catch {
            throw RewardModelError("reward model \(directory.path): \(error)")
        }
    }

    /// Rewards (values at each row's last token), in batches of `batch` rows.
    public func rewards(_ rows: [[Int32]], batch: Int = 256) throws -> [Float] {
        try lock.withLock { try Self.lastValues(transformer, rows, batch: batch) }
    }

    /// Values at each row's last token; leaves the last batch's activations for a backward pass.
    static func lastValues(_ model: Transformer, _ rows: [[Int32]], batch: Int) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(rows.count)
        var i = 0
        while i < rows.count {
            let part = Array(rows[i..<min(i + batch, rows.count)])
            out += try model.sequenceValues(part).map { $0.last! }
            i += batch
        }
        return out
    }

    /// The reward server's scorer: the reward of one item, normalised with `stats` when `normalize`.
    public func scorer(normalize: Bool) throws(RewardModelError) -> Scorer {
        if normalize && stats == nil {
            throw RewardModelError("reward.normalize is set but the reward model has no \(RewardStats.fileName)")
        }
        let stats = normalize ? stats : nil
        let c = transformer.config
        return { [self] item in
            let row = RewardEncoder.row(item)
            guard !row.isEmpty, row.count <= c.maxPositionEmbeddings else {
                throw RemoteError(
                    code: .badRequest,
                    message: "a scored sequence needs 1...\(c.maxPositionEmbeddings) tokens, "
                        + "found \(row.count)")
            }
            if let bad = row.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
                throw RemoteError(
                    code: .badRequest, message: "token \(bad) is outside the vocabulary of \(c.vocabSize)")
            }
            let r = try rewards([row])[0]
            return stats.map { $0.normalize(r) } ?? r
        }
    }
}
