// The policy engine's subcommands.
import ArgumentParser

/// Top-level subcommands of the policy engine (data, sft, logprobs, generate, chat).
let modelCommands: [any ParsableCommand.Type] = [
    DataCommand.self, SFTCommand.self, LogprobsCommand.self,
    GenerateCommand.self, ChatCommand.self,
]
/// `rpp bench` subcommands of the policy engine.
let modelBenchCommands: [any ParsableCommand.Type] = [BenchModel.self, BenchMemory.self, BenchKernels.self]
