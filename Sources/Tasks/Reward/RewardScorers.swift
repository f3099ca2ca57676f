// The reward server's scorer for a run config's `reward` section: the toy's token rule, a verifier on decoded
// text, a learned reward model on tokens, or a remote HTTP endpoint (OpenRLHF's protocol).
import Foundation
import Model
import Roles
import RunKit
import Wire

/// Makes reward scorers.
public enum RewardScorers {
    /// The scorer of `section` and a one-line description. `text` (the policy directory's text side) decodes
    /// responses for verifiers and the remote endpoint; `log` hears about remote failures.
    public static func make(
        _ section: RunConfig.RewardSection, text: ModelText?,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> (BatchScorer, String) {
        let unnormalised = section.normalize ? " (reward.normalize applies to kind model only)" : ""
        switch section.kind {
        case .arithExact:
            let v = ArithExactMatch()
            return ({ items in items.map(v.reward) }, "arith_exact" + unnormalised)
        case .verifier:
            let verifier: any Verifier
            do { verifier = try VerifierSpec.parse(section.verifier) } catch {
                throw DatasetError("reward.verifier: \(error)")
            }
            let text = try need(text, "verifier")
            return (
                { items in
                    items.map { Float(verifier.score(response: text.response($0.responseTokens), label: $0.answer)) }
                }, "verifier \(section.verifier) on text decoded with \(text.directory)" + unnormalised
            )
        case .model:
            guard let path = section.model else { throw DatasetError("reward.model: needed for reward.kind model") }
            do {
                let model = try RewardModel.load(directory: URL(fileURLWithPath: path))
                let norm =
                    section.normalize
                    ? model.stats.map { String(format: ", normalised (mean %.4g, std %.4g)", $0.mean, $0.std) } ?? ""
                    : ", not normalised"
                let one = try model.scorer(normalize: section.normalize)
                return (
                    { items in try items.map(one) },
                    "model \(path) (\(model.transformer.parameterCount) parameters\(norm))"
                )
            } catch { throw DatasetError("reward.model: \(error)") }
        case .classifier:
            guard let path = section.model else {
                throw DatasetError("reward.model: needed for reward.kind classifier")
            }
            let text = try need(text, "classifier")
            let reward: ClassifierReward
            do { reward = try ClassifierReward.load(directory: URL(fileURLWithPath: path)) } catch {
                throw DatasetError("reward.model: \(error)")
            }
            return (
                { items in
                    try reward.scores(
                        prompts: items.map { text.text($0.promptTokens) },
                        responses: items.map { text.response($0.responseTokens) })
                },
                "classifier \(path) (logit of prompt + response, re-tokenized with its own tokenizer)"
                    + (section.normalize ? " (reward.normalize applies to kind model only)" : "")
            )
        case .remote:
            guard let url = section.url else {
                throw DatasetError("reward.url: needed for reward.kind remote (e.g. http://127.0.0.1:5000/get_reward)")
            }
            let text = try need(text, "remote")
            let policy = RemoteRewardPolicy(
                timeout: section.timeoutSeconds, retries: section.retries,
                fallback: section.fallback)
            let client: RemoteReward
            do { client = try RemoteReward(url: url, policy: policy) } catch { throw DatasetError("\(error)") }
            return (
                { items in
                    let prompts = items.map { text.text($0.promptTokens) }
                    let responses = items.map { text.response($0.responseTokens) }
                    let r = client.score(
                        queries: zip(prompts, responses).map { $0 + $1 }, prompts: prompts,
                        labels: items.map(\.answer))
                    if r.failed > 0 {
                        log(
                            "reward: \(r.failed) of \(items.count) samples got the fallback \(section.fallback) from \(url): "
                                + (r.lastError ?? "no answer"))
                    }
                    return r.rewards.map(Float.init)
                },
                "remote \(url) (timeout \(section.timeoutSeconds) s, \(section.retries) retries, fallback "
                    + "\(section.fallback))"
            )
        }
    }

    private static func need(_ text: ModelText?, _ kind: String) throws -> ModelText {
        guard let text else {
            throw DatasetError("reward.kind \(kind) decodes responses: give the policy's model directory (model.init)")
        }
        return text
    }
}
