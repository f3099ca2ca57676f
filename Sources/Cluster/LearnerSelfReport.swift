// The learner's record of itself in its run directory, `RUN/learner-process.json`: its pid, start time, boot
// id, arguments and log. A learner started outside `rpp cluster` (resumed by hand after a crash, say) writes
// it too, so `rpp cluster status`, `scale`, `down` and `resume` find the learner that now runs the run and
// put it in the state file in place of the one that exited.
import Foundation

/// What a learner writes about itself when it starts.
public struct LearnerSelfReport: Sendable, Equatable, Codable {
    /// Its pid.
    public var pid: Int32
    /// Its start time (clock ticks after boot, /proc/self/stat field 22).
    public var startTime: UInt64?
    /// Its host's boot id.
    public var bootID: String?
    /// The rpp arguments it was started with (after the binary).
    public var arguments: [String]
    /// Where its output goes when that is a file (its log), else nil.
    public var log: String?
    /// When it started (Unix seconds).
    public var started: Double

    /// The file in a run directory.
    public static func file(in runDirectory: String) -> String {
        (runDirectory as NSString).appendingPathComponent("learner-process.json")
    }

    /// This process's report (read from /proc/self).
    public static func current() -> LearnerSelfReport {
        let stat = ProcessControl.readProcFile("/proc/self/stat").flatMap(ProcStat.init)
        var log: String? = nil
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/fd/1", &buffer, buffer.count - 1)
        if n > 0 {
            let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("/") && !target.hasPrefix("/dev/") { log = target }
        }
        return LearnerSelfReport(
            pid: getpid(), startTime: stat?.startTime, bootID: ProcessControl.localBootID,
            arguments: Array(CommandLine.arguments.dropFirst()), log: log,
            started: Date().timeIntervalSince1970)
    }

    /// Writes the report into `runDirectory` (atomically).
    public func write(runDirectory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: Self.file(in: runDirectory)), options: .atomic)
    }

    /// The record of the learner `recorded` would be if it were the process of this report.
    func record(replacing recorded: ProcessRecord) -> ProcessRecord {
        ProcessRecord(
            spec: recorded.spec, pid: pid, command: arguments, log: log ?? recorded.log, started: started,
            startTime: startTime, bootID: bootID)
    }
}

extension ClusterControl {
    /// When the recorded learner has exited and the run directory's `learner-process.json` names another
    /// learner that runs (started by hand with `rpp learner --resume`, or by `cluster resume`), records that
    /// one instead and saves the state. Returns the adopted record.
    @discardableResult
    public static func adoptRestartedLearner(_ state: inout ClusterState, log: (String) -> Void) -> ProcessRecord? {
        guard let recorded = state.learnerProcess, ProcessControl.hasExited(recorded),
            let report = readSelfReport(state, on: recorded.spec.launcher)
        else { return nil }
        let candidate = report.record(replacing: recorded)
        guard ProcessControl.liveness(candidate) == .running else { return nil }
        guard let index = state.processes.firstIndex(where: { $0.spec.id == recorded.spec.id }) else { return nil }
        state.processes[index] = candidate
        do { try state.save() } catch {
            log("cluster: cannot write \(ClusterState.file(in: state.runDirectory)): \(error)")
        }
        log(
            "cluster: the learner of \(state.runDirectory) exited (pid \(recorded.pid)) and another runs it now (pid "
                + "\(candidate.pid) on \(recorded.spec.host), started outside `rpp cluster up`); recorded it in the state file"
        )
        return candidate
    }

    /// The learner's report in the run directory, read on the learner's host; nil when there is none.
    static func readSelfReport(_ state: ClusterState, on launcher: Launcher) -> LearnerSelfReport? {
        let path = LearnerSelfReport.file(in: state.runDirectory)
        let data: Data?
        if launcher == .local {
            data = FileManager.default.contents(atPath: path)
        } else {
            let out = try? HostShell.run("cat -- \(HostShell.quote(path))", on: launcher, timeout: 15)
            data = out.flatMap { $0.status == 0 ? Data($0.stdout.utf8) : nil }
        }
        return data.flatMap { try? JSONDecoder().decode(LearnerSelfReport.self, from: $0) }
    }
}
