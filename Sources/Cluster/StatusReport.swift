// `rpp cluster status`: one row per process, from the state file (what was started, and whether its pid
// still runs), the learner's answer (members, their policy version, throughput, units, silence) and each
// server's own answer. Workers the learner knows but the state file does not (started by hand) get rows too.
import Foundation
import Wire

/// One process in `cluster status`.
public struct StatusRow: Sendable, Equatable, Codable {
    /// Role name.
    public var role: String
    /// Process id in the cluster (`rollout-2`, a server's address, ...).
    public var id: String
    /// Host address (or host name, for processes not in the state file).
    public var host: String
    /// Pid on its host, when known.
    public var pid: Int32?
    /// Running: its pid runs and is the process started (state file), or the learner hears from it (others).
    public var alive: Bool
    /// What it reports doing.
    public var state: String
    /// Policy version it reported.
    public var policyVersion: UInt64?
    /// Samples per second over the last 30 s (scored samples, for servers).
    public var samplesPerSecond: Double?
    /// Units done (workers), units received (learner), requests answered (servers).
    public var units: UInt64?
    /// Milliseconds since the learner last heard from it (workers); 0 for a process that just answered.
    public var lastHeardMillis: Int64?
    /// True when `cluster up` or `scale` started it.
    public var managed: Bool
}

/// The status of a whole cluster.
public struct StatusReport: Sendable, Codable {
    /// The run directory.
    public var runDirectory: String
    /// Why the learner did not answer, if it did not.
    public var learnerError: String?
    /// One row per process.
    public var rows: [StatusRow]

    /// Asks every process of `state` (pids on their hosts, the learner, every server).
    public static func gather(_ state: ClusterState, probe: StatusProbe) -> StatusReport {
        var learnerError: String? = nil
        var members: [Status] = []
        if let learner = state.exitedLearner {
            // No status request to wait out: the run has ended (or failed), and its log says how.
            learnerError =
                "the learner (pid \(learner.pid) on \(learner.spec.host)) is not running: this run has ended or "
                + "failed (see \(learner.log)); `rpp cluster down` stops whatever is left of it"
        } else {
            do { members = try probe.learner(state.learner) } catch { learnerError = error.description }
        }
        let byID = Dictionary(members.map { ($0.workerID, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [StatusRow] = []
        for p in state.processes {
            let liveness = ProcessControl.liveness(p)
            let alive = liveness == .running
            var s: Status? = nil
            switch p.spec.roleValue {
            case .learner: s = members.first { $0.role == .learner }
            case .rollout: s = byID[p.spec.id]
            case .reward, .reference: s = alive ? probe.server(p.spec.listen ?? "") : nil
            }
            rows.append(
                StatusRow(
                    role: p.spec.role, id: p.spec.id, host: p.spec.host, pid: p.pid, alive: alive,
                    state: s?.state
                        ?? (alive
                            ? (p.spec.roleValue == .rollout ? "not registered" : "not answering")
                            : liveness == .exited ? "exited" : "unknown (its host did not answer)"),
                    policyVersion: p.spec.roleValue.hasPolicy ? s?.policyVersion : nil,
                    samplesPerSecond: s?.samplesPerSecond, units: s?.unitsDone,
                    lastHeardMillis: s?.silentMillis, managed: true))
        }
        let known = Set(state.processes.map(\.spec.id))
        for m in members where m.role != .learner && !known.contains(m.workerID) {
            rows.append(
                StatusRow(
                    role: m.role.rawValue, id: m.workerID, host: m.host.isEmpty ? "?" : m.host,
                    pid: m.pid > 0 ? m.pid : nil, alive: true, state: m.state, policyVersion: m.policyVersion,
                    samplesPerSecond: m.samplesPerSecond, units: m.unitsDone, lastHeardMillis: m.silentMillis,
                    managed: false))
        }
        return StatusReport(runDirectory: state.runDirectory, learnerError: learnerError, rows: rows)
    }

    /// Rollout workers the learner hears from.
    public var workersRegistered: Int { rows.filter { $0.role == "rollout" && $0.lastHeardMillis != nil }.count }

    /// The report as an aligned text table with a summary line.
    public var table: String {
        let header = ["ROLE", "ID", "HOST", "PID", "ALIVE", "STATE", "VERSION", "SAMPLES/S", "UNITS", "LAST HEARD"]
        let lines = rows.map { r -> [String] in
            [
                r.role, r.id + (r.managed ? "" : " (external)"), r.host, r.pid.map(String.init) ?? "-",
                r.alive ? "yes" : "NO",
                r.state, r.policyVersion.map { "v\($0)" } ?? "-",
                r.samplesPerSecond.map { String(format: "%.0f", $0) } ?? "-", r.units.map(String.init) ?? "-",
                r.lastHeardMillis.map { String(format: "%.1f s ago", Double($0) / 1000) } ?? "-",
            ]
        }
        let widths = header.indices.map { i in ([header] + lines).map { $0[i].count }.max() ?? 0 }
        func row(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        let alive = rows.filter(\.alive).count
        var summary =
            "cluster \(runDirectory): \(alive)/\(rows.count) processes alive, \(workersRegistered) rollout "
            + "worker(s) registered with the learner"
        if let e = learnerError { summary += "\nlearner: \(e)" }
        return ([summary, row(header)] + lines.map(row)).joined(separator: "\n")
    }
}

extension Role {
    /// True for roles that hold a policy version (learner and rollout workers).
    var hasPolicy: Bool { self == .learner || self == .rollout }
}
