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
        case .ssh(let target): ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", target, script]
        case .prefix(let words): words + ["sh", "-c", script]
        }
    }

    /// Runs `script` on the host; kills the launcher and throws when it takes longer than `timeout` seconds.
    public static func run(_ script: String, on launcher: Launcher, timeout: Double = 30) throws(ClusterError) -> Output {
        let args = argv(script, launcher: launcher)
        do { return try Spawn.run(args, timeout: timeout) } catch let e as Spawn.Failure {
            switch e {
            case .cannotStart(let why): throw ClusterError("cannot run \(args[0]) (\(launcher.summary)): \(why)")
            case .timedOut:
                throw ClusterError("\(launcher.summary): no answer within \(Int(timeout)) s to `\(script.prefix(80))`; "
                                   + "is the host reachable (try the launcher by hand)?")
            }
        } catch { throw ClusterError("\(error)") }
    }
}

/// Starting and stopping the processes of a cluster on their hosts.
public enum ProcessControl {
    /// Starts `binary arguments` on the spec's host in `directory`, detached, with OPENBLAS_NUM_THREADS=1 and
    /// output to `log`; returns its pid.
    public static func start(_ spec: ProcessSpec, binary: String, arguments: [String], directory: String,
                             log: String) throws(ClusterError) -> Int32 {
        let command = ([binary] + arguments).map(HostShell.quote).joined(separator: " ")
        let script = """
            mkdir -p \(HostShell.quote((log as NSString).deletingLastPathComponent)) || exit 1
            cd \(HostShell.quote(directory)) || exit 1
            OPENBLAS_NUM_THREADS=1 setsid \(command) > \(HostShell.quote(log)) 2>&1 < /dev/null &
            echo $!
            """
        let out: HostShell.Output
        do { out = try HostShell.run(script, on: spec.launcher) } catch {
            throw ClusterError("cannot start \(spec.id) on \(spec.host): \(error)")
        }
        guard out.status == 0, let pid = Int32(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ClusterError("cannot start \(spec.id) on \(spec.host) (\(spec.launcher.summary)): exit \(out.status) "
                               + "\(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))")
        }
        return pid
    }

    /// True while the process runs (not gone, not a zombie, still an rpp process).
    public static func isAlive(_ record: ProcessRecord) -> Bool {
        let pid = record.pid
        guard pid > 0 else { return false }
        if record.spec.launcher == .local {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
            guard state != "Z" && state != "X" else { return false }
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return String(decoding: cmdline, as: UTF8.self).contains("rpp")
        }
        let script = """
            s=$(sed 's/.*) //' /proc/\(pid)/stat 2>/dev/null | cut -c1)
            [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ] && grep -qa rpp /proc/\(pid)/cmdline
            """
        return (try? HostShell.run(script, on: record.spec.launcher, timeout: 15))?.status == 0
    }

    /// Sends `signal` (SIGTERM, SIGKILL) to the process; false if it was not running.
    @discardableResult
    public static func signal(_ record: ProcessRecord, _ signal: Int32) -> Bool {
        guard isAlive(record) else { return false }
        if record.spec.launcher == .local { return kill(record.pid, signal) == 0 }
        let name = signal == SIGKILL ? "KILL" : signal == SIGINT ? "INT" : "TERM"
        return (try? HostShell.run("kill -\(name) \(record.pid)", on: record.spec.launcher, timeout: 15))?.status == 0
    }

    /// Waits until none of `records` runs or `timeout` seconds pass; returns those still running.
    public static func waitForExit(_ records: [ProcessRecord], timeout: Double) -> [ProcessRecord] {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var running = records
        while true {
            running = running.filter(isAlive)
            if running.isEmpty || Date() >= deadline { return running }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// The last `lines` lines of the process's log (read on its host).
    public static func tail(_ record: ProcessRecord, lines: Int = 15) -> String {
        if record.spec.launcher == .local {
            guard let text = try? String(contentsOfFile: record.log, encoding: .utf8) else { return "(no log at \(record.log))" }
            return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1)
                .joined(separator: "\n").trimmingCharacters(in: .newlines)
        }
        let out = try? HostShell.run("tail -n \(lines) \(HostShell.quote(record.log))", on: record.spec.launcher, timeout: 15)
        return out.map { $0.stdout.trimmingCharacters(in: .newlines) } ?? "(cannot read \(record.log) on \(record.spec.host))"
    }
}
