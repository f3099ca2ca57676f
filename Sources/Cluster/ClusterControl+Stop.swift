// `rpp cluster down` and `rpp cluster scale`: stopping gracefully (the learner first, with SIGTERM, so it
// checkpoints; then workers and servers; SIGKILL after a timeout), and adding or removing rollout workers
// while the run goes on.
import Foundation
import Wire

extension ClusterControl {
    /// What `stop` did to one process.
    public enum StopOutcome: String, Sendable {
        /// It exited after SIGTERM.
        case stopped
        /// It did not exit in time and was killed.
        case killed
        /// It was not running any more.
        case gone
    }

    /// Stops every process of `state`: the learner first (SIGTERM, then SIGKILL after `learnerTimeout`
    /// seconds), then the rest together (`othersTimeout`). Returns each process's outcome.
    public static func stop(
        _ state: ClusterState, learnerTimeout: Double, othersTimeout: Double,
        log: (String) -> Void
    ) -> [(ProcessRecord, StopOutcome)] {
        var outcomes: [(ProcessRecord, StopOutcome)] = []
        let learner = state.processes.filter { $0.spec.roleValue == .learner }
        let others = state.processes.filter { $0.spec.roleValue != .learner }
        for group in [learner, others] where !group.isEmpty {
            outcomes += terminate(
                group, timeout: group == learner ? learnerTimeout : othersTimeout, command: "down", log: log)
        }
        return outcomes
    }

    /// SIGTERM to every process of `group` at once, SIGKILL to those still running `timeout` seconds later;
    /// each one's outcome. `command` ("down", "scale") opens the log lines.
    static func terminate(
        _ group: [ProcessRecord], timeout: Double, command: String,
        log: (String) -> Void
    ) -> [(ProcessRecord, StopOutcome)] {
        var outcomes: [(ProcessRecord, StopOutcome)] = []
        let signalled = group.filter { ProcessControl.signal($0, SIGTERM) }
        for p in group where !signalled.contains(p) {
            outcomes.append((p, .gone))
            log("cluster \(command): \(p.spec.id) (pid \(p.pid) on \(p.spec.host)) had already exited")
        }
        guard !signalled.isEmpty else { return outcomes }
        log(
            "cluster \(command): SIGTERM to \(signalled.map(\.spec.id).joined(separator: ", ")); waiting up to \(Int(timeout)) s"
        )
        let left = ProcessControl.waitForExit(signalled, timeout: timeout)
        for p in left {
            ProcessControl.signal(p, SIGKILL)
            log("cluster \(command): \(p.spec.id) (pid \(p.pid)) did not stop within \(Int(timeout)) s; sent SIGKILL")
        }
        _ = ProcessControl.waitForExit(left, timeout: 5)
        for p in signalled { outcomes.append((p, left.contains(p) ? .killed : .stopped)) }
        return outcomes
    }

    /// Brings the number of rollout workers recorded in `state` to `count`: starts new ones (on the hosts
    /// file's rollout hosts, fewest workers first) and waits until they registered, or stops the newest
    /// ones with SIGTERM (each finishes its unit; the learner re-issues a lost lease anyway). Workers that
    /// are no longer running are dropped from the state first. Saves the state.
    public static func scale(
        _ state: inout ClusterState, rollout count: Int, hosts: HostsFile?, timeout: Double,
        log: (String) -> Void
    ) throws(ClusterError) {
        // Workers started for a run whose learner is gone would wait for, and then join, whichever learner
        // comes up next on that address (another run's): refuse instead.
        if let learner = state.exitedLearner {
            throw ClusterError(
                "the learner of \(state.runDirectory) (pid \(learner.pid) on \(learner.spec.host)) is not running: "
                    + "that run has ended or failed, so nothing was started or stopped. Start a cluster with "
                    + "`rpp cluster up` (or `make run`), or stop what is left of this one with `rpp cluster down`")
        }
        let dead = state.workers.filter(ProcessControl.hasExited)
        if !dead.isEmpty {
            log(
                "cluster scale: \(dead.map(\.spec.id).joined(separator: ", ")) no longer running; dropped from the state"
            )
            state.processes.removeAll { dead.contains($0) }
        }
        let current = state.workers
        if count > current.count {
            var started: [ProcessRecord] = []
            for _ in current.count..<count {
                let spec = placement(state: state, hosts: hosts)
                let record = try launch(spec, into: &state)
                started.append(record)
                log("cluster scale: started \(spec.id) on \(spec.host) (pid \(record.pid)), log \(record.log)")
            }
            try waitAnswering(
                started, state: state, timeout: timeout, phase: "before registering with the learner",
                notReady: "not registered with the learner after \(Int(timeout)) s (the new workers keep "
                    + "running; see their logs, or run `rpp cluster scale` again)")
        } else if count < current.count {
            // Each leaving worker finishes its unit (the learner re-issues a lost lease anyway). The state drops
            // them first, so that an interrupted scale leaves no record of a worker that is going away.
            let leaving = Array(current.suffix(current.count - count))
            state.processes.removeAll { leaving.contains($0) }
            do { try state.save() } catch { throw ClusterError("cannot write the state file: \(error)") }
            _ = terminate(leaving, timeout: timeout, command: "scale", log: log)
        }
        do { try state.save() } catch { throw ClusterError("cannot write the state file: \(error)") }
    }

    /// Where a new rollout worker goes: the hosts file's rollout host with the fewest recorded workers
    /// (the learner's host when the file names none or cannot be read).
    static func placement(state: ClusterState, hosts: HostsFile?) -> ProcessSpec {
        let id = "rollout-\(state.nextRolloutNumber)"
        let candidates = hosts?.hosts.filter { $0.count(.rollout) > 0 } ?? []
        if let h = candidates.min(by: { a, b in
            state.workers.filter { $0.spec.host == a.address }.count
                < state.workers.filter { $0.spec.host == b.address }.count
        }) {
            return ProcessSpec(
                id: id, role: "rollout", host: h.address, launcher: h.launcher, directory: h.directory,
                binary: h.binary, listen: nil)
        }
        let learner = state.learnerProcess?.spec
        return ProcessSpec(
            id: id, role: "rollout", host: learner?.host ?? "127.0.0.1", launcher: learner?.launcher ?? .local,
            directory: learner?.directory, binary: learner?.binary, listen: nil)
    }
}
