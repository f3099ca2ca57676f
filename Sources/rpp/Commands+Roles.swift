// The learner and rollout-worker commands and what they share: loading the run config with
// one-line errors, running a role on a thread of its own, and stopping it on SIGTERM / SIGINT.
import ArgumentParser
import Dispatch
import Foundation
import Model
import Roles
import RunKit

/// Top-level subcommands of the training roles.
let roleCommands: [any ParsableCommand.Type] = [LearnerCommand.self, RolloutCommand.self]

/// A failure of a role command, printed as one line.
struct RoleCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Options both roles take: the run config and overrides.
struct RoleConfigOptions: ParsableArguments {
    @Option(help: "Run config file (YAML).") var config: String = "Deploy/rpp.yaml"
    @Option(name: .customLong("set"), help: "Override a config value: section.key=value (repeatable).")
    var overrides: [String] = []
    @Argument(help: "More overrides, section.key=value.") var assignments: [String] = []

    /// Loads the config; its errors are one line naming the key. Warns on stderr when a multi-host cluster has
    /// no key.
    func load() throws -> RunConfig {
        let loaded: RunConfig
        do {
            loaded = try RunConfig.load(path: config, overrides: overrides + assignments)
        } catch let e as ConfigError {
            throw RoleCommandError("\(e)")
        }
        if let warning = loaded.cluster.missingKeyWarning {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        return loaded
    }
}

/// Loads a policy checkpoint with a one-line error that says how to make one.
func loadPolicy(_ path: String, key: String) throws -> Transformer {
    try loadPolicyCheckpoint(path, key: key).model
}

/// Loads a policy checkpoint and what its directory holds besides the weights (for the checkpoints a
/// trainer writes), with a one-line error that says how to make one.
func loadPolicyCheckpoint(_ path: String, key: String) throws -> (model: Transformer, source: CheckpointSource) {
    do { return try Transformer.loadCheckpoint(directory: URL(fileURLWithPath: path)) } catch {
        throw RoleCommandError(
            "\(key) \(path): cannot load the checkpoint (\(error)); make one with `rpp sft --out \(path)`")
    }
}

/// Runs `body` on a thread of its own (it blocks on sockets and model compute) and calls `stop` on the
/// first SIGTERM or SIGINT.
func runRole<T: Sendable>(
    name: String, stop: @escaping @Sendable () -> Void,
    body: @escaping @Sendable () throws -> T
) async throws -> T {
    let queue = DispatchQueue(label: "rpp.\(name).signals")
    var sources: [any DispatchSourceProtocol] = []
    for sig in [SIGTERM, SIGINT] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
        source.setEventHandler {
            FileHandle.standardError.write(Data("\(name): signal received, stopping\n".utf8))
            stop()
        }
        source.resume()
        sources.append(source)
    }
    defer { for source in sources { source.cancel() } }
    return try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "rpp-\(name)"
        thread.stackSize = 8 << 20
        thread.start()
    }
}
