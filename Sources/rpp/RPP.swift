import ArgumentParser

/// The one binary. Every role and tool of rpp is a subcommand.
@main
struct RPP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpp",
        abstract: "REINFORCE++ on a cluster of Swift processes.",
        discussion: """
            Roles and tools of an rpp cluster. Run `rpp help <subcommand>` for the options of one. \
            Start with `make run` (a local cluster trains a small model) and `make test`.

            Operate a cluster with `rpp cluster up --hosts Deploy/hosts.local`, then `rpp cluster status`, \
            `rpp cluster scale --rollout N` and `rpp cluster down` (see Deploy/CLUSTER.md). A learner stopped \
            with SIGTERM checkpoints; `rpp learner --resume` continues it; `rpp learner --record DIR` and \
            `rpp replay DIR` record and re-run its updates bit for bit.
            """,
        subcommands: [Inspect.self, Bench.self, ClusterCommand.self, ModelCommand.self] + modelCommands + roleCommands
            + serverCommands + recordingCommands + tokenizerCommands + [TemplateCommand.self])
}

/// `rpp inspect ...`: look inside frames, recordings and the RL math.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look inside frames and batches.",
        subcommands: [InspectFrame.self] + rlInspectCommands)
}

/// `rpp bench ...`: benchmarks that report ratios against a baseline measured in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks, each against a baseline measured in the same run.",
        subcommands: [
            BenchWire.self, BenchBroadcast.self, BenchWeights.self,
            BenchRun.self,
        ] + modelBenchCommands + rlBenchCommands + tokenizerBenchCommands)
}
