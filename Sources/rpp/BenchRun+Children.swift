// The child processes of `rpp bench run`: each role is this same binary, started with posix_spawn (stdout and
// stderr to a log file, OPENBLAS_NUM_THREADS=1) and reaped with wait4, which also returns the child's peak
// resident set (ru_maxrss). Every child is stopped (SIGTERM, then SIGKILL after a grace period) on exit,
// on error and on Ctrl-C.
import Foundation
import Glibc

/// One role started by the benchmark.
final class BenchChild {
    /// Role name, e.g. "reference" or "learner-gae".
    let name: String
    /// Its process id.
    let pid: pid_t
    /// Its stdout + stderr.
    let log: URL
    /// Exit status (or 128 + signal) and peak RSS in MiB, once reaped.
    private(set) var exit: (status: Int32, peakMB: Double)?

    /// Starts `executable arguments...` with `environment` added to this process's environment.
    init(name: String, executable: String, arguments: [String], log: URL, environment: [String: String]) throws {
        self.name = name
        self.log = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard rc == 0 else {
            throw BenchRunError("cannot start \(name) (\(executable)): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// True while the child runs; reaps it (and records status and peak RSS) once it has exited.
    var isRunning: Bool {
        if exit != nil { return false }
        var status: Int32 = 0
        var usage = rusage()
        let r = wait4(pid, &status, WNOHANG, &usage)
        guard r == pid else { return r == 0 }
        let signal = status & 0x7f
        exit = (signal == 0 ? (status >> 8) & 0xff : 128 + signal, Double(usage.ru_maxrss) / 1024)
        return false
    }

    /// SIGTERM to every child at once, then SIGKILL to those still running after `grace` seconds; reaps them all.
    static func stopAll(_ children: [BenchChild], grace: Double = 5) {
        for child in children where child.isRunning { kill(child.pid, SIGTERM) }
        let end = Date().addingTimeInterval(grace)
        while children.contains(where: \.isRunning) && Date() < end { usleep(20_000) }
        for child in children where child.isRunning { kill(child.pid, SIGKILL) }
        while children.contains(where: \.isRunning) { usleep(10_000) }
    }

    /// The whole log.
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The last `count` lines of the log, indented, for error messages.
    func tail(_ count: Int = 8) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).suffix(count + 1)
        return lines.map { "    \($0)" }.joined(separator: "\n")
    }

    /// Waits until the log contains `text`; throws when the child exits first or `seconds` pass.
    func waitFor(_ text: String, seconds: Double, interrupted: () -> Bool) throws {
        let end = Date().addingTimeInterval(seconds)
        while !output.contains(text) {
            if interrupted() { throw BenchRunError("interrupted") }
            guard isRunning else {
                throw BenchRunError(
                    "\(name) exited with status \(exit!.status) before it was ready; last lines of \(log.path):\n\(tail())"
                )
            }
            guard Date() < end else {
                throw BenchRunError(
                    "\(name) did not print '\(text)' within \(Int(seconds)) s; last lines of \(log.path):\n\(tail())")
            }
            usleep(50_000)
        }
    }
}

/// A failure of `rpp bench run`, printed as one message.
struct BenchRunError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Sets a flag on the first SIGINT or SIGTERM (instead of dying), so the benchmark can stop its children.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var sources: [any DispatchSourceProtocol] = []

    /// Installs the handlers.
    init() {
        let queue = DispatchQueue(label: "rpp.bench-run.signals")
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [self] in lock.withLock { raised = true } }
            source.resume()
            sources.append(source)
        }
    }

    /// True once a signal arrived.
    var isRaised: Bool { lock.withLock { raised } }

    deinit { for source in sources { source.cancel() } }
}

/// The path of the running executable (children run the same binary).
func currentExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
