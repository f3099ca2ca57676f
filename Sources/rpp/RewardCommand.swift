// `rpp reward`: the reward server of a cluster.
import ArgumentParser
import Foundation
import Model
import Roles
import RunKit
import Tasks
import Wire

/// `rpp reward`: answers score requests with the scorer the config's `reward.kind` names.
struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Run a reward server (arith_exact, a verifier on text, a reward model or a remote endpoint).",
        discussion: """
            Scorer from reward.kind: arith_exact (response = answer digits then EOS), verifier (reward.verifier \
            on the response text decoded with model.init's tokenizer, e.g. numeric or \
            "0.9*numeric + 0.1*format:number"), model (reward.model checkpoint from `rpp rm-train`; value at the \
            last response token, normalised with its reward_stats.json when reward.normalize), remote \
            (reward.url, OpenRLHF's protocol, with reward.timeout_seconds, reward.retries and reward.fallback). \
            SIGTERM or SIGINT stops it.
            """)

    @OptionGroup var server: ServerOptions

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let config = try server.load()
        let (codec, key) = try clusterCodec(config)
        guard let address = server.listen ?? config.cluster.reward.first else {
            throw ServerCommandError("cluster.reward: no address to listen on; give --listen ADDRESS")
        }
        let (scorer, description) = try Self.scorer(config)
        let service = RewardService(name: config.reward.kind.rawValue, scoreBatch: scorer)
        try serveUntilSignalled(
            name: "reward", address: address, codec: codec, resentKinds: [.scoreRequest], handler: service.handle,
            banner: "reward server listening on \(address); scorer \(description); \(key)",
            statsEvery: server.statsEvery)
    }

    /// The scorer of `config.reward` and a one-line description of it; verifiers and remote rewards decode with
    /// the policy directory's tokenizer (model.init).
    static func scorer(_ config: RunConfig) throws -> (BatchScorer, String) {
        var text: ModelText? = nil
        if [.verifier, .remote, .classifier].contains(config.reward.kind) {
            let path = config.model.initPath
            let vocab: Int
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path).appendingPathComponent("config.json"))
                vocab = try ModelConfig(jsonData: data, source: path + "/config.json").vocabSize
            } catch { throw ServerCommandError("model.init \(path): cannot read config.json (\(error))") }
            do { text = try ModelText(directory: path, vocabSize: vocab) } catch {
                throw ServerCommandError("model.init: \(error)")
            }
        }
        do {
            return try RewardScorers.make(
                config.reward, text: text,
                log: {
                    print($0)
                    fflush(nil)
                })
        } catch { throw ServerCommandError("\(error)") }
    }
}
