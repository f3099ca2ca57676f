// The policy engine's subcommands.
import ArgumentParser

/// Top-level subcommands of the policy engine (data, sft, logprobs).
let modelCommands: [any ParsableCommand.Type] = [DataCommand.self, SFTCommand.self, LogprobsCommand.self]
/// `rpp bench` subcommands of the policy engine.
let modelBenchCommands: [any ParsableCommand.Type] = [BenchModel.self, BenchMemory.self]
