// Whether a recorded cluster process still runs, decided from what /proc says about its pid: the process
// is the one that was started when the pid's start time (field 22 of /proc/PID/stat, clock ticks after
// boot, fixed for the life of a process and kept across exec) and the host's boot id match the ones read
// when it was started. While a process execs, /proc can show it as a zombie (exec called from a thread
// other than the main one) and its /proc/PID/cmdline empty; neither reading counts as an exit here.
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
            let start = UInt64(fields[19])
        else { return nil }
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
    ///
    /// A zombie reading is not enough to call a process exited. When a thread other than the main one calls
    /// exec (rpp re-executes itself from a worker thread of Swift's concurrency pool), the kernel shows the
    /// old main thread as a zombie at the pid until the exec'ing thread takes it over, for milliseconds or
    /// more. So a zombie counts as exited only when no thread of the process runs (`threadStates`, the state
    /// letters of /proc/PID/task/*/stat) and a second reading of the pid (`again`) still shows a zombie.
    public static func judge(
        _ record: ProcessRecord, stat text: String?, bootID: String?,
        threadStates: () -> [Character] = { [] }, again: () -> String? = { nil }
    ) -> Liveness {
        guard record.pid > 0, let text else { return .exited }
        guard let stat = ProcStat(text) else { return .unknown("cannot read /proc/\(record.pid)/stat") }
        // The pid was handed to a new process after a reboot or after the one started exited.
        if let boot = record.bootID, let now = bootID, boot != now { return .exited }
        if let start = record.startTime, start != stat.startTime { return .exited }
        if !stat.hasExited { return .running }
        if threadStates().contains(where: { $0 != "Z" && $0 != "X" }) { return .running }
        if let later = again().flatMap(ProcStat.init), !later.hasExited,
            record.startTime.map({ $0 == later.startTime }) ?? true
        {
            return .running
        }
        return .exited
    }
}

extension ProcessControl {
    /// This machine's boot id (identifies the boot, so a pid and start time from before a reboot match nothing).
    static let localBootID: String? = readProcFile("/proc/sys/kernel/random/boot_id")
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The script that prints, for pid expression `pid`: its stat line, the stat lines of its threads, its stat
    /// line read again, and the host's boot id, each part after a marker line (the markers tell an answer
    /// from a launcher that failed).
    static func statScript(pid: String) -> String {
        "cat /proc/\(pid)/stat 2>/dev/null; echo; echo \(statMarkers[0]); cat /proc/\(pid)/task/*/stat 2>/dev/null; echo; "
            + "echo \(statMarkers[1]); cat /proc/\(pid)/stat 2>/dev/null; echo; echo \(statMarkers[2]); "
            + "cat /proc/sys/kernel/random/boot_id 2>/dev/null"
    }

    static let statMarkers = ["--rpp-threads--", "--rpp-again--", "--rpp-boot--"]

    /// What the output of `statScript` says.
    struct StatReading: Equatable {
        var stat: String?
        var threads: [String]
        var again: String?
        var bootID: String?

        /// Judges `record` from this reading.
        func judge(_ record: ProcessRecord) -> Liveness {
            Liveness.judge(
                record, stat: stat, bootID: bootID,
                threadStates: { threads.compactMap { ProcStat($0)?.state } }, again: { again })
        }
    }

    /// Splits the output of `statScript`; nil when a marker is missing (the script did not run).
    static func parseStatOutput(_ output: String) -> StatReading? {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let marks = statMarkers.compactMap { lines.firstIndex(of: $0) }
        guard marks.count == 3, marks[0] < marks[1], marks[1] < marks[2] else { return nil }
        func part(_ r: Range<Int>) -> [String] {
            lines[r].map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let stat = part(0..<marks[0]).joined(separator: "\n")
        let again = part((marks[1] + 1)..<marks[2]).joined(separator: "\n")
        let boot = part((marks[2] + 1)..<lines.count).joined()
        return StatReading(
            stat: stat.isEmpty ? nil : stat, threads: part((marks[0] + 1)..<marks[1]),
            again: again.isEmpty ? nil : again, bootID: boot.isEmpty ? nil : boot)
    }

    /// The state letters of the threads of `pid` on this machine.
    static func localThreadStates(_ pid: Int32) -> [Character] {
        let dir = "/proc/\(pid)/task"
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return tids.compactMap { readProcFile("\(dir)/\($0)/stat").flatMap(ProcStat.init)?.state }
    }

    /// The whole text of a /proc file (their size reads as 0, so read until end of file); nil if missing.
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += buffer[..<n]
        }
    }
}
