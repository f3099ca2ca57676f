// `rpp reference`: the reference-policy server of a cluster.
import ArgumentParser
import Foundation
import Model
import Roles
import RunKit
import Wire

/// `rpp reference`: answers reference log-prob requests with the frozen model.reference checkpoint.
struct ReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "Run a reference server: per-token log-probs of the frozen starting policy.",
        discussion: "Loads model.reference (which defaults to model.init). SIGTERM or SIGINT stops it.")

    @OptionGroup var server: ServerOptions

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let config = try server.load()
        let (codec, key) = try clusterCodec(config)
        guard let address = server.listen ?? config.cluster.reference.first else {
            throw ServerCommandError("cluster.reference: no address to listen on; give --listen ADDRESS")
        }
        let path = config.model.reference
        let model: Transformer
        do { model = try Transformer.load(directory: URL(fileURLWithPath: path)) } catch {
            throw ServerCommandError("model.reference \(path): \(error)")
        }
        model.usePrecision(config.model.referencePrecision, keepFloat32: false)
        guard !model.config.scalarHead else {
            throw ServerCommandError(
                "model.reference \(path): a scalar-head model has no log-probs; give a policy checkpoint")
        }
        try preflight(config, policy: model.config, context: "reference (model.reference \(path))")
        let service = ReferenceService(model: model)
        try serveUntilSignalled(
            name: "reference", address: address, codec: codec, resentKinds: [.refLogprobRequest],
            handler: service.handle,
            banner: "reference server listening on \(address); model \(path) "
                + "(\(model.parameterCount) parameters); products \(model.precision.kernelDescription); \(key)",
            statsEvery: server.statsEvery)
    }
}
