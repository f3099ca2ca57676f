// Running short shell scripts on a host the way its launcher says (here, through ssh, or through a prefix
// such as `ip netns exec h2`), always with a deadline, and starting, signalling, checking and reading the
// log of a cluster process with them. Processes are started detached (setsid, stdin from /dev/null,
// output to their log) so they outlive `rpp cluster up` and a Ctrl-C in its terminal.
import Foundation

/// Shell scripts on cluster hosts.
public enum HostShell {
    /// What a script printed and how it ended.
    public struct Output: Sendable {
        /// Exit status (the launcher's: ssh gives 255 when it cannot connect).
        public var status: Int32
        /// Standard output.
        public var stdout: String
        /// Standard error.
        public var stderr: String
    }

    /// Quotes `word` for sh.
    public static func quote(_ word: String) -> String {
        if !word.isEmpty && word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@+%".contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The program and arguments that run `script` on a host reached by `launcher`.
    public static func argv(_ script: String, launcher: Launcher) -> [String] {
        switch launcher {
        case .local: ["/bin/sh", "-c", script]
        case .ssh(let target): ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", target, script]
        case .prefix(let words): words + ["sh", "-c", script]
        }
    }

    /// Runs `script` on the host; kills the launcher and throws when it takes longer than `timeout` seconds.
    public static func run(_ script: String, on launcher: Launcher, timeout: Double = 30) throws(ClusterError) -> Output
    {
        let args = argv(script, launcher: launcher)
        do { return try Spawn.run(args, timeout: timeout) } catch let e as Spawn.Failure {
            switch e {
            case .cannotStart(let why): throw ClusterError("cannot run \(args[0]) (\(launcher.summary)): \(why)")
            case .timedOut:
                throw ClusterError(
                    "\(launcher.summary): no answer within \(Int(timeout)) s to `\(script.prefix(80))`; "
                        + "is the host reachable (try the launcher by hand)?")
            }
        } catch { throw ClusterError("\(error)") }
    }
}

/// Starting and stopping the processes of a cluster on their hosts.
public enum ProcessControl {
    /// A process as started: its pid, its start time and its host's boot id (nil when /proc could not tell).
    public struct Started: Sendable, Equatable {
        public var pid: Int32
        public var startTime: UInt64?
        public var bootID: String?
    }

    /// Starts `binary arguments` on the spec's host in `directory`, detached, with OPENBLAS_NUM_THREADS=1 and
    /// output to `log` (added to its end with `append`, after a line saying when); returns its pid and what
    /// identifies it (read while the launch script still runs, so the pid cannot have been reused yet).
    public static func start(
        _ spec: ProcessSpec, binary: String, arguments: [String], directory: String,
        log: String, append: Bool = false
    ) throws(ClusterError) -> Started {
        let command = ([binary] + arguments).map(HostShell.quote).joined(separator: " ")
        let mark =
            append
            ? "echo \"--- started again by rpp cluster resume at $(date -u +%FT%TZ) ---\" >> \(HostShell.quote(log))\n"
            : ""
        let script = """
            mkdir -p -- \(HostShell.quote((log as NSString).deletingLastPathComponent)) || exit 1
            cd -- \(HostShell.quote(directory)) || exit 1
            \(mark)OPENBLAS_NUM_THREADS=1 setsid \(command) \(append ? ">>" : ">") \(HostShell.quote(log)) 2>&1 < /dev/null &
            pid=$!
            echo "$pid"
            \(statScript(pid: "$pid"))
            """
        let out: HostShell.Output
        do { out = try HostShell.run(script, on: spec.launcher) } catch {
            throw ClusterError("cannot start \(spec.id) on \(spec.host): \(error)")
        }
        let lines = out.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        guard out.status == 0, let first = lines.first,
            let pid = Int32(first.trimmingCharacters(in: .whitespaces)), pid > 0
        else {
            throw ClusterError(
                "cannot start \(spec.id) on \(spec.host) (\(spec.launcher.summary)): exit \(out.status) "
                    + "\(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))")
        }
        let reading = lines.count > 1 ? parseStatOutput(String(lines[1])) : nil
        return Started(pid: pid, startTime: reading?.stat.flatMap(ProcStat.init)?.startTime, bootID: reading?.bootID)
    }

    /// Whether the recorded process runs, has exited, or cannot be told (its host did not answer).
    public static func liveness(_ record: ProcessRecord) -> Liveness {
        guard record.pid > 0 else { return .exited }
        if record.spec.launcher == .local {
            let path = "/proc/\(record.pid)/stat"
            return Liveness.judge(
                record, stat: readProcFile(path), bootID: localBootID,
                threadStates: { localThreadStates(record.pid) }, again: { readProcFile(path) })
        }
        let out: HostShell.Output
        do { out = try HostShell.run(statScript(pid: "\(record.pid)"), on: record.spec.launcher, timeout: 15) } catch {
            return .unknown(error.description)
        }
        guard let reading = parseStatOutput(out.stdout) else {
            return .unknown(
                "\(record.spec.launcher.summary): exit \(out.status) "
                    + "\(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))")
        }
        return reading.judge(record)
    }

    /// True while the process runs (it exists, is not a zombie, and is the process that was started).
    public static func isAlive(_ record: ProcessRecord) -> Bool { liveness(record) == .running }

    /// True once the process has certainly ended (a host that cannot be asked does not count).
    public static func hasExited(_ record: ProcessRecord) -> Bool { liveness(record) == .exited }

    /// Sends `signal` (SIGTERM, SIGKILL) to the process; false if it had exited. A process whose host cannot
    /// be asked is signalled anyway (the remote script checks the start time itself before it kills).
    @discardableResult
    public static func signal(_ record: ProcessRecord, _ signal: Int32) -> Bool {
        let now = liveness(record)
        guard now != .exited else { return false }
        if record.spec.launcher == .local { return now == .running && kill(record.pid, signal) == 0 }
        let name = signal == SIGKILL ? "KILL" : signal == SIGINT ? "INT" : "TERM"
        var script = "kill -\(name) \(record.pid)"
        if let start = record.startTime {
            // Only the process that was started: the pid's start time (field 22) must still be the recorded one.
            script =
                "[ \"$(sed 's/.*) //' /proc/\(record.pid)/stat 2>/dev/null | cut -d' ' -f20)\" = \(start) ] && "
                + script
        }
        return (try? HostShell.run(script, on: record.spec.launcher, timeout: 15))?.status == 0
    }

    /// Waits until none of `records` runs or `timeout` seconds pass; returns those still running.
    public static func waitForExit(_ records: [ProcessRecord], timeout: Double) -> [ProcessRecord] {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var running = records
        while true {
            running = running.filter { !hasExited($0) }
            if running.isEmpty || Date() >= deadline { return running }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The last `lines` lines of the process's log (read on its host).
    public static func tail(_ record: ProcessRecord, lines: Int = 15) -> String {
        if record.spec.launcher == .local {
            guard let text = try? String(contentsOfFile: record.log, encoding: .utf8) else {
                return "(no log at \(record.log))"
            }
            return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1)
                .joined(separator: "\n").trimmingCharacters(in: .newlines)
        }
        let out = try? HostShell.run(
            "tail -n \(lines) -- \(HostShell.quote(record.log))", on: record.spec.launcher, timeout: 15)
        return out.map { $0.stdout.trimmingCharacters(in: .newlines) }
            ?? "(cannot read \(record.log) on \(record.spec.host))"
    }
}
