// `rpp cluster up`: start every process of a hosts file, record them in the state file, and wait until the
// cluster is healthy (the learner answers status requests, every server answers, every rollout worker
// has registered), or stop what was started and say which process failed, with the end of its log.
import Foundation
import RunKit
import Wire

/// What `cluster up` needs beyond the hosts file.
public struct UpRequest: Sendable {
    /// The validated hosts file.
    public var hosts: HostsFile
    /// Absolute path of the run config.
    public var config: String
    /// The user's overrides (`section.key=value`); the cluster.* addresses are added after them.
    public var overrides: [String]
    /// The run directory (`run.dir/run.name` of the config with the overrides).
    public var runDirectory: String
    /// `cluster.key_file` and `cluster.compression` of the run.
    public var keyFile: String?, compression: String
    /// The rpp binary and working directory for hosts that do not name their own.
    public var binary: String, directory: String
    /// Seconds to wait for the cluster to become healthy.
    public var timeout: Double

    /// Creates a request.
    public init(
        hosts: HostsFile, config: String, overrides: [String], runDirectory: String, keyFile: String?,
        compression: String, binary: String, directory: String, timeout: Double
    ) {
        self.hosts = hosts
        self.config = config
        self.overrides = overrides
        self.runDirectory = runDirectory
        self.keyFile = keyFile
        self.compression = compression
        self.binary = binary
        self.directory = directory
        self.timeout = timeout
    }
}

/// Starting, watching and stopping the processes of a cluster.
public enum ClusterControl {
    /// The rpp arguments of a process: its role, the run config, every override, and its own options.
    static func arguments(_ spec: ProcessSpec, state: ClusterState) -> [String] {
        var args = [spec.role, "--config", state.config] + state.overrides.flatMap { ["--set", $0] }
        switch spec.roleValue {
        case .reward, .reference: args += ["--listen", spec.listen ?? ""]
        case .rollout: args += ["--id", spec.id]
        case .learner: break
        }
        return args
    }

    /// Starts one process and records it in `state` (saved at once, so `down` can always clean up): appended,
    /// or in place of the record at `replacing` (whose log it continues). `arguments` default to the spec's.
    static func launch(
        _ spec: ProcessSpec, arguments: [String]? = nil, into state: inout ClusterState,
        replacing index: Int? = nil
    ) throws(ClusterError) -> ProcessRecord {
        let args = arguments ?? self.arguments(spec, state: state)
        let log =
            index.map { state.processes[$0].log }
            ?? (state.runDirectory as NSString).appendingPathComponent("logs/\(spec.id).log")
        let dir = spec.directory ?? state.directory
        let started = try ProcessControl.start(
            spec, binary: spec.binary ?? state.binary, arguments: args, directory: dir,
            log: log, append: index != nil)
        let record = ProcessRecord(
            spec: spec, pid: started.pid, command: args, log: log, started: Date().timeIntervalSince1970,
            startTime: started.startTime, bootID: started.bootID)
        if let index { state.processes[index] = record } else { state.processes.append(record) }
        do { try state.save() } catch {
            throw ClusterError("cannot write \(ClusterState.file(in: state.runDirectory)): \(error)")
        }
        return record
    }

    /// Starts the cluster and returns its state once healthy; on failure stops what it started and throws.
    public static func up(_ r: UpRequest, log: (String) -> Void) throws(ClusterError) -> ClusterState {
        let plan = ClusterPlan(hosts: r.hosts)
        var state = ClusterState(
            runDirectory: r.runDirectory, hostsFile: r.hosts.path, config: r.config,
            overrides: r.overrides + plan.overrides, directory: r.directory, binary: r.binary,
            learner: plan.learner, keyFile: r.keyFile, compression: r.compression)
        if var old = try? ClusterState.load(r.runDirectory),
            adoptRestartedLearner(&old, log: log) != nil || old.processes.contains(where: ProcessControl.isAlive)
        {
            throw ClusterError(
                "a cluster is already running in \(r.runDirectory); stop it with `rpp cluster down --dir "
                    + "\(r.runDirectory)` or pick another run.name")
        }
        if let checkpoint = RunCheckpoints.latest(runDirectory: r.runDirectory) {
            throw ClusterError(
                "\(r.runDirectory) already holds checkpoints/\(checkpoint.lastPathComponent) of an earlier run: "
                    + "continue it with `rpp cluster resume --dir \(r.runDirectory)`, or pick another run.name")
        }
        do {
            try FileManager.default.createDirectory(atPath: r.runDirectory + "/logs", withIntermediateDirectories: true)
        } catch { throw ClusterError("cannot create \(r.runDirectory)/logs: \(error)") }
        do {
            for spec in plan.processes {
                let record = try launch(spec, into: &state)
                log("cluster up: started \(spec.id) on \(spec.host) (pid \(record.pid)), log \(record.log)")
            }
            try waitHealthy(state, timeout: r.timeout, log: log)
        } catch {
            log("cluster up: stopping the \(state.processes.count) process(es) started")
            _ = stop(state, learnerTimeout: 20, othersTimeout: 5, log: { _ in })
            throw error
        }
        return state
    }

    /// Waits until the learner answers, every server answers and every recorded rollout worker is registered.
    static func waitHealthy(_ state: ClusterState, timeout: Double, log: (String) -> Void) throws(ClusterError) {
        try waitAnswering(
            state.processes, state: state, timeout: timeout, phase: "while the cluster started",
            notReady: "the cluster is not healthy after \(Int(timeout)) s")
    }

    /// Waits until every one of `records` answers: the learner on its status port, a server at its address, a
    /// rollout worker by being registered with the learner. A record whose process exits ends the wait with
    /// its log's last lines (`phase` says when it exited); so does the timeout (`notReady` opens that error).
    static func waitAnswering(
        _ records: [ProcessRecord], state: ClusterState, timeout: Double, phase: String,
        notReady: String
    ) throws(ClusterError) {
        let probe = try StatusProbe(state: state, timeout: 1)
        let deadline = Date(timeIntervalSinceNow: timeout)
        var missing: [(record: ProcessRecord, why: String)] = []
        repeat {
            if !missing.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
            for p in records where ProcessControl.hasExited(p) {
                // A small run can be over before every member has answered: a learner that finished it is done.
                if p.spec.roleValue == .learner && runIsComplete(state) { return }
                throw ClusterError(
                    "\(p.spec.id) (\(p.spec.role) on \(p.spec.host)) exited \(phase); "
                        + "last lines of \(p.log):\n\(ProcessControl.tail(p))")
            }
            let members = (try? probe.learner(state.learner)) ?? []
            let registered = Set(members.map(\.workerID))
            missing = records.compactMap { p in
                switch p.spec.roleValue {
                case .learner: return members.isEmpty ? (p, "learner (no answer on its status port)") : nil
                case .reward, .reference:
                    return probe.server(p.spec.listen ?? "") == nil
                        ? (p, "\(p.spec.id) (no answer at \(p.spec.listen ?? "?"))") : nil
                case .rollout:
                    return registered.contains(p.spec.id) ? nil : (p, "\(p.spec.id) (not registered with the learner)")
                }
            }
        } while !missing.isEmpty && Date() < deadline
        guard !missing.isEmpty else { return }
        let tails = missing.map {
            "--- \($0.record.spec.id): \($0.record.log)\n\(ProcessControl.tail($0.record, lines: 8))"
        }
        throw ClusterError(
            "\(notReady): \(missing.map(\.why).joined(separator: ", "))\n" + tails.joined(separator: "\n"))
    }
}
