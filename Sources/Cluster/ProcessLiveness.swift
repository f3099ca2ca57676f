// Whether a recorded cluster process still runs, decided from what /proc says about its pid: the process
// is the one that was started when the pid's start time (field 22 of /proc/PID/stat, clock ticks after
// boot, fixed for the life of a process and kept across exec) and the host's boot id match the ones read
// when it was started. Nothing here reads /proc/PID/cmdline, which is briefly empty while a process execs
// (setsid handing over to rpp, rpp re-executing itself), so a reading taken then cannot count as an exit.
import Foundation

/// The fields of `/proc/PID/stat` that identify a process and say whether it still runs.
public struct ProcStat: Sendable, Equatable {
    /// State letter: R, S, D, T, t, Z (zombie), X (dead), ...
    public var state: Character
    /// Start time in clock ticks after boot.
    public var startTime: UInt64

    /// Parses the text of `/proc/PID/stat`; nil when it is not one. The command name (field 2) is in
    /// parentheses and may itself hold spaces and parentheses, so fields are counted after its last `)`.
    public init?(_ text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        // fields[0] is field 3 (state), so field 22 (start time) is fields[19].
        guard fields.count > 19, let state = fields[0].first, fields[0].count == 1,
              let start = UInt64(fields[19]) else { return nil }
        self.state = state
        self.startTime = start
    }

    /// True for a process that has ended (a zombie waiting for its parent, or dead).
    public var hasExited: Bool { state == "Z" || state == "X" }
}

/// What is known about a recorded process.
public enum Liveness: Sendable, Equatable {
    /// It runs: the pid exists, is not a zombie, and is the process that was started.
    case running
    /// It has ended: the pid is gone, is a zombie, or now belongs to another process.
    case exited
    /// Its host could not be asked (ssh failed, or a timeout); the reason.
    case unknown(String)

    /// Judges a record from one reading of its host: `stat` is the text of /proc/PID/stat (nil when the
    /// file does not exist), `bootID` the host's /proc/sys/kernel/random/boot_id (nil when unreadable).
    public static func judge(_ record: ProcessRecord, stat text: String?, bootID: String?) -> Liveness {
        guard record.pid > 0, let text else { return .exited }
        guard let stat = ProcStat(text) else { return .unknown("cannot read /proc/\(record.pid)/stat") }
        if stat.hasExited { return .exited }
        // The pid was handed to a new process after a reboot or after the one started exited.
        if let boot = record.bootID, let now = bootID, boot != now { return .exited }
        if let start = record.startTime, start != stat.startTime { return .exited }
        return .running
    }
}

extension ProcessControl {
    /// This machine's boot id (identifies the boot, so a pid and start time from before a reboot match nothing).
    static let localBootID: String? = readProcFile("/proc/sys/kernel/random/boot_id")
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The script that prints a pid's stat line, a marker line, then the boot id: the marker tells an
    /// answer from a launcher that failed.
    static func statScript(pid: String) -> String {
        "cat /proc/\(pid)/stat 2>/dev/null; echo; echo \(statMarker); cat /proc/sys/kernel/random/boot_id 2>/dev/null"
    }

    static let statMarker = "--rpp-stat--"

    /// Splits the output of `statScript` into the stat text (nil when the pid did not exist) and the boot id;
    /// nil when the marker is missing (the script did not run).
    static func parseStatOutput(_ output: String) -> (stat: String?, bootID: String?)? {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let marker = lines.firstIndex(of: statMarker) else { return nil }
        let stat = lines[..<marker].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        let boot = lines[(marker + 1)...].joined().trimmingCharacters(in: .whitespacesAndNewlines)
        return (stat.isEmpty ? nil : stat, boot.isEmpty ? nil : boot)
    }

    /// The whole text of a /proc file (their size reads as 0, so read until end of file); nil if missing.
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += buffer[..<n]
        }
    }
}
