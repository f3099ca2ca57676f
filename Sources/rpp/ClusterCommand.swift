// `rpp cluster up | status | scale | down`: operating a cluster from a hosts file (see Sources/Cluster).
import ArgumentParser
import Cluster
import Foundation
import RunKit

/// `rpp cluster ...`: start, watch, scale and stop every process of a cluster.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Start, watch, scale and stop a cluster from a hosts file.",
        discussion: """
            `up` starts every role of a hosts file (Deploy/hosts.local: all on this machine; Deploy/hosts.example: \
            several machines through ssh), writes logs to RUN/logs and the state to RUN/cluster.json (RUN = \
            run.dir/run.name), points run.dir/current at RUN, and returns once the learner answers, every server \
            answers and every rollout worker has registered. `status`, `scale`, `down` and `resume` find the cluster \
            through runs/current unless given --dir. See Deploy/CLUSTER.md.
            """,
        subcommands: [
            ClusterUp.self, ClusterStatusCommand.self, ClusterScale.self, ClusterDown.self, ClusterResume.self,
        ])
}

/// Where `status`, `scale` and `down` find the cluster.
struct ClusterLocation: ParsableArguments {
    @Option(help: "The cluster's run directory, its cluster.json, or a pointer to it.") var dir: String = "runs/current"

    /// The state, with a learner that was restarted outside `rpp cluster` (`rpp learner --resume` by hand) put
    /// in place of the recorded one that exited.
    func load() throws -> ClusterState {
        var state: ClusterState
        do { state = try ClusterState.load(dir) } catch { throw ClusterError(error.description) }
        ClusterControl.adoptRestartedLearner(&state, log: say)
        return state
    }
}

/// `rpp cluster up`.
struct ClusterUp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Start every process of a hosts file and wait until the cluster is healthy.",
        discussion: """
            Servers first, then the learner, then the rollout workers, each with OPENBLAS_NUM_THREADS=1, the run \
            config, the overrides and --set cluster.learner/reward/reference from the hosts file. Local hosts run \
            processes here; others through ssh or their launcher, in the same directory with the same binary \
            path unless the line gives dir= and rpp=. If a process exits or the cluster is not healthy in \
            --timeout seconds, everything started is stopped and the failing process's log is shown.
            """)

    @Option(help: "Hosts file (one line per host: address, roles, options).") var hosts: String
    @OptionGroup var options: RoleConfigOptions
    @Option(help: "Seconds to wait for a healthy cluster.") var timeout: Double = 120

    func validate() throws { try checkSeconds(timeout, "--timeout") }

    func run() throws {
        let hostsFile: HostsFile
        do { hostsFile = try HostsFile.load(path: hosts) } catch { throw ClusterError("cluster up: \(error)") }
        let plan = ClusterPlan(hosts: hostsFile)
        let config: RunConfig
        do {
            config = try RunConfig.load(
                path: options.config, overrides: options.overrides + options.assignments + plan.overrides)
        } catch { throw ClusterError("cluster up: \(error)") }
        try preflightIfLocal(config, context: "cluster up")
        if let warning = config.cluster.missingKeyWarning { say("cluster up: \(warning)") }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : (cwd as NSString).appendingPathComponent(p) }
        let runDir = URL(fileURLWithPath: absolute(config.runDirectory)).standardizedFileURL.path
        let request = UpRequest(
            hosts: hostsFile, config: absolute(options.config), overrides: options.overrides + options.assignments,
            runDirectory: runDir, keyFile: config.cluster.keyFile.map(absolute),
            compression: config.cluster.compression.rawValue, binary: currentExecutable(),
            directory: cwd, timeout: timeout)
        let start = Date()
        let state: ClusterState
        do { state = try ClusterControl.up(request, log: say) } catch {
            throw ClusterError("cluster up: \(error)")
        }
        let pointer = (config.run.dir as NSString).appendingPathComponent("current")
        do { try state.writePointer(pointer) } catch {
            say("cluster up: cannot write the pointer \(pointer): \(error)")
        }
        if let probe = try? StatusProbe(state: state) { say(StatusReport.gather(state, probe: probe).table) }
        say(
            String(
                format:
                    "cluster up: healthy after %.1f s; %d processes; run directory %@ (state cluster.json, logs logs/); "
                    + "%@ points to it", Date().timeIntervalSince(start), state.processes.count, runDir, pointer))
    }
}

/// `rpp cluster status`.
struct ClusterStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every process: role, host, pid, policy version, throughput, last heartbeat, alive.")

    @OptionGroup var location: ClusterLocation
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "Seconds to wait for each process's answer.") var timeout: Double = 3

    func validate() throws { try checkSeconds(timeout, "--timeout") }

    func run() throws {
        let state = try location.load()
        let probe: StatusProbe
        do { probe = try StatusProbe(state: state, timeout: timeout) } catch {
            throw ClusterError("cluster status: \(error)")
        }
        let report = StatusReport.gather(state, probe: probe)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            say(report.table)
        }
    }
}

/// `rpp cluster scale`.
struct ClusterScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Add or remove rollout workers while the run goes on.",
        discussion: """
            New workers go to the hosts file's rollout hosts (fewest workers first) and are waited for until the \
            learner lists them. Removed workers (the newest first) get SIGTERM and stop after their current unit. \
            Workers started by hand (`rpp rollout --learner ADDRESS`) are not counted or stopped.
            """)

    @OptionGroup var location: ClusterLocation
    @Option(help: "Rollout workers wanted.") var rollout: Int
    @Option(help: "Seconds to wait for new workers to register or removed ones to stop.") var timeout: Double = 60

    func validate() throws {
        guard (0...256).contains(rollout) else { throw ValidationError("--rollout must be from 0 to 256") }
        try checkSeconds(timeout, "--timeout")
    }

    func run() throws {
        var state = try location.load()
        let hosts = try? HostsFile.load(path: state.hostsFile)
        let before = state.workers.count
        let start = Date()
        do { try ClusterControl.scale(&state, rollout: rollout, hosts: hosts, timeout: timeout, log: say) } catch {
            throw ClusterError("cluster scale: \(error)")
        }
        say(
            "cluster scale: rollout workers \(before) → \(state.workers.count) in "
                + String(format: "%.1f s: ", Date().timeIntervalSince(start))
                + state.workers.map(\.spec.id).joined(separator: ", "))
    }
}

/// `rpp cluster down`.
struct ClusterDown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop every process: the learner first (it checkpoints), then workers and servers.",
        discussion: """
            SIGTERM, then SIGKILL after the timeout (the learner's --timeout; the others get 20 s, or \
            cluster.request_timeout_seconds + 10 s when that is longer). Prints the run directory.
            """)

    @OptionGroup var location: ClusterLocation
    @Option(help: "Seconds the learner gets to checkpoint and exit.") var timeout: Double = 120

    func validate() throws { try checkSeconds(timeout, "--timeout") }

    func run() throws {
        let state = try location.load()
        let outcomes = ClusterControl.stop(
            state, learnerTimeout: timeout, othersTimeout: ClusterControl.othersGrace(state),
            log: say)
        let counts = Dictionary(grouping: outcomes, by: { $0.1 }).mapValues(\.count)
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: location.dir),
            URL(fileURLWithPath: target).standardizedFileURL.path == state.runDirectory
        {
            try? FileManager.default.removeItem(atPath: location.dir)
        }
        say(
            "cluster down: \(counts[.stopped] ?? 0) stopped, \(counts[.killed] ?? 0) killed, \(counts[.gone] ?? 0) already "
                + "gone; run directory \(state.runDirectory)")
    }
}

/// `rpp cluster resume`.
struct ClusterResume: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Start again every process of a cluster that died; the learner continues from its last checkpoint.",
        discussion: """
            Every process in the state file that is no longer running (kill -9, a crash, a rebooted host) is \
            started again with its recorded arguments, on its host, its log continued; the learner gets --resume \
            and continues from the run's newest checkpoint (the iterations after it are done again; their old \
            metrics.jsonl lines move to metrics.discarded.jsonl). Processes still running are kept. Then it waits \
            as `up` does. `status`, `scale` and `down` work on the resumed run. A learner resumed by hand \
            (`rpp learner --resume`) is found through RUN/learner-process.json and recorded in the state file.
            """)

    @OptionGroup var location: ClusterLocation
    @Option(help: "Seconds to wait for a healthy cluster.") var timeout: Double = 120

    func validate() throws {
        guard timeout > 0 && timeout <= 86_400 else {
            throw ValidationError("--timeout must be from 0 to 86400 seconds")
        }
    }

    func run() throws {
        var state = try location.load()
        let start = Date()
        let started: [ProcessRecord]
        do { started = try ClusterControl.resume(&state, timeout: timeout, log: say) } catch {
            throw ClusterError("cluster resume: \(error)")
        }
        guard !started.isEmpty else { return }
        if let probe = try? StatusProbe(state: state) { say(StatusReport.gather(state, probe: probe).table) }
        say(
            String(
                format: "cluster resume: healthy after %.1f s; started again: %@; run directory %@",
                Date().timeIntervalSince(start), started.map(\.spec.id).joined(separator: ", "), state.runDirectory))
    }
}

/// Prints a line now (the output may be a pipe that `make run` follows).
func say(_ line: String) {
    print(line)
    fflush(nil)
}
