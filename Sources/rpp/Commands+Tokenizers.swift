// Subcommands for Hugging Face tokenizers.
import ArgumentParser

/// Top-level subcommands for tokenizers (tokenize).
let tokenizerCommands: [any ParsableCommand.Type] = [TokenizeCommand.self]
/// `rpp bench` subcommands for tokenizers.
let tokenizerBenchCommands: [any ParsableCommand.Type] = [BenchTokenize.self]
