import ArgumentParser

/// `rpp inspect` subcommands of the RL core.
let rlInspectCommands: [any ParsableCommand.Type] = [InspectAdvantages.self]
/// `rpp bench` subcommands of the RL core.
let rlBenchCommands: [any ParsableCommand.Type] = [BenchRL.self]
