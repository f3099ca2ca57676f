// `rpp reward`: the reward server of a cluster.
import ArgumentParser
import Foundation
import Model
import Roles
import RunKit
import Wire

/// `rpp reward`: answers score requests with the scorer the config's `reward.kind` names.
struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Run a reward server (arith_exact, numeric or a Bradley-Terry reward model).",
        discussion: """
            Scorer from reward.kind: arith_exact (response = answer digits then EOS), numeric (last number of \
            the response equals the answer), model (reward.model checkpoint from `rpp rm-train`; value at the \
            last response token, normalised with its reward_stats.json when reward.normalize). SIGTERM or \
            SIGINT stops it.
            """)

    @OptionGroup var server: ServerOptions

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let config = try server.load()
        let (codec, key) = try clusterCodec(config)
        guard let address = server.listen ?? config.cluster.reward.first else {
            throw ServerCommandError("cluster.reward: no address to listen on; give --listen ADDRESS")
        }
        let (scorer, description) = try Self.scorer(config.reward)
        let service = RewardService(name: config.reward.kind.rawValue, score: scorer)
        try serveUntilSignalled(name: "reward", address: address, codec: codec, handler: service.handle,
                                banner: "reward server listening on \(address); scorer \(description); \(key)",
                                statsEvery: server.statsEvery)
    }

    /// The scorer of `reward.kind` and a one-line description of it.
    static func scorer(_ section: RunConfig.RewardSection) throws -> (Scorer, String) {
        switch section.kind {
        case .arithExact:
            let v = ArithExactMatch()
            return ({ v.reward($0) }, "arith_exact" + (section.normalize ? " (reward.normalize applies to kind model only)" : ""))
        case .numeric:
            let v = NumericAnswerMatch()
            return ({ v.reward($0) }, "numeric" + (section.normalize ? " (reward.normalize applies to kind model only)" : ""))
        case .model:
            guard let path = section.model else { throw ServerCommandError("reward.model: needed for reward.kind model") }
            do {
                let model = try RewardModel.load(directory: URL(fileURLWithPath: path))
                let norm = section.normalize ? model.stats.map { String(format: ", normalised (mean %.4g, std %.4g)", $0.mean, $0.std) } ?? ""
                    : ", not normalised"
                return (try model.scorer(normalize: section.normalize),
                        "model \(path) (\(model.transformer.parameterCount) parameters\(norm))")
            } catch { throw ServerCommandError("reward.model: \(error)") }
        }
    }
}
