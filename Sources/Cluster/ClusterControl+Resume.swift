// `rpp cluster resume`: bring a run whose processes died (kill -9, a crash, a rebooted host) back, in the
// order `up` uses: every recorded process that has exited is started again with its recorded arguments
// (the learner with --resume, so it continues from the run's newest checkpoint), its log continued, its
// record in the state file replaced; then the cluster is waited for as `up` does.
import Foundation
import RunKit
import Wire

extension ClusterControl {
    /// The newest checkpoint of the run (`iter-NNNNNN`), read on the learner's host; nil when there is none.
    public static func latestCheckpoint(_ state: ClusterState) -> String? {
        let launcher = state.learnerProcess?.spec.launcher ?? .local
        if launcher == .local { return RunCheckpoints.latest(runDirectory: state.runDirectory)?.lastPathComponent }
        let root = HostShell.quote((state.runDirectory as NSString).appendingPathComponent("checkpoints"))
        let script = "for d in \(root)/iter-*; do [ -f \"$d/trainer_state.json\" ] && echo \"${d##*/}\"; done; true"
        let out = try? HostShell.run(script, on: launcher, timeout: 15)
        return out?.stdout.split(separator: "\n").map(String.init).sorted().last
    }

    /// True when the newest checkpoint (`checkpoint`, or the one read on the learner's host) is of the run's last
    /// iteration: the learner has finished the run.
    static func runIsComplete(_ state: ClusterState, checkpoint: String?? = nil) -> Bool {
        let newest = checkpoint ?? latestCheckpoint(state)
        guard let iteration = newest.flatMap({ Int($0.dropFirst("iter-".count)) }),
            let total = runConfig(state)?.run.iterations
        else { return false }
        return iteration >= total
    }

    /// The run config of the state (its file with its overrides), or nil when it cannot be read any more.
    static func runConfig(_ state: ClusterState) -> RunConfig? {
        try? RunConfig.load(path: state.config, overrides: state.overrides)
    }

    /// Seconds `down` gives the processes other than the learner: 20, or the run's request timeout and 10 more
    /// when that is longer (a worker may be waiting on a request when SIGTERM comes).
    public static func othersGrace(_ state: ClusterState) -> Double {
        max(20, min(runConfig(state)?.cluster.requestTimeoutSeconds ?? 0, 3600) + 10)
    }

    /// Starts again every recorded process that has exited (the learner with --resume) and waits until the
    /// cluster is healthy; returns the records started. Throws, naming the process, when a host cannot be
    /// asked, when the run is complete, or when a restarted process exits or does not answer in `timeout`
    /// seconds (the processes it started are then stopped again; the others are left as they were).
    public static func resume(
        _ state: inout ClusterState, timeout: Double,
        log: (String) -> Void
    ) throws(ClusterError) -> [ProcessRecord] {
        adoptRestartedLearner(&state, log: log)
        var dead: [Int] = []
        for (i, p) in state.processes.enumerated() {
            switch ProcessControl.liveness(p) {
            case .running: continue
            case .exited: dead.append(i)
            case .unknown(let why):
                throw ClusterError(
                    "cannot tell whether \(p.spec.id) (pid \(p.pid) on \(p.spec.host)) runs: \(why); nothing "
                        + "was started. Check the host, then run `rpp cluster resume` again")
            }
        }
        guard !dead.isEmpty else {
            log("cluster resume: every process of \(state.runDirectory) runs; nothing to resume")
            return []
        }
        if dead.contains(where: { state.processes[$0].spec.roleValue == .learner }) {
            let checkpoint = latestCheckpoint(state)
            let iteration = checkpoint.flatMap { Int($0.dropFirst("iter-".count)) }
            if runIsComplete(state, checkpoint: checkpoint), let total = runConfig(state)?.run.iterations {
                throw ClusterError(
                    "the run in \(state.runDirectory) is complete (checkpoint \(checkpoint!) of "
                        + "run.iterations \(total)): nothing to resume. Stop what is left with `rpp cluster down`")
            }
            log(
                checkpoint.map {
                    "cluster resume: the learner continues from checkpoints/\($0) (iteration \(iteration ?? 0))"
                }
                    ?? "cluster resume: no checkpoint in \(state.runDirectory)/checkpoints yet; the learner starts the run again"
            )
        }
        var started: [ProcessRecord] = []
        do {
            for i in dead {
                let old = state.processes[i]
                var args = old.command
                if old.spec.roleValue == .learner && !args.contains("--resume") { args.append("--resume") }
                let record = try launch(old.spec, arguments: args, into: &state, replacing: i)
                started.append(record)
                log(
                    "cluster resume: \(old.spec.id) (pid \(old.pid)) had exited; started again on \(old.spec.host) "
                        + "(pid \(record.pid)), log \(record.log)")
            }
            try waitAnswering(
                state.processes, state: state, timeout: timeout, phase: "while the cluster resumed",
                notReady: "the cluster is not healthy \(Int(timeout)) s after resuming")
        } catch {
            log("cluster resume: stopping the \(started.count) process(es) started again")
            _ = terminate(started, timeout: 20, command: "resume", log: { _ in })
            throw error
        }
        return started
    }
}
