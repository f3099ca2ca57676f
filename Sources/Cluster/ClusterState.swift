// The state file of a running cluster, `RUN/cluster.json`: what `cluster up` started (roles, hosts, pids,
// commands, logs) and how to reach the learner, so that `status`, `scale` and `down` need no flags. A
// pointer `RUN_DIR/current` (a symlink to the run directory; `runs/current` by default) finds the newest.
import Foundation

/// One started process.
public struct ProcessRecord: Sendable, Equatable, Codable {
    /// What was planned.
    public var spec: ProcessSpec
    /// Its pid on its host.
    public var pid: Int32
    /// The rpp arguments it was started with (after the binary).
    public var command: [String]
    /// Its log file (on its host).
    public var log: String
    /// When it was started (Unix seconds).
    public var started: Double
    /// Its start time on its host (clock ticks after boot, /proc/PID/stat field 22): with the pid, it names
    /// this process and no later one that reuses the pid. Nil in state files written before it was recorded.
    public var startTime: UInt64? = nil
    /// The boot id of its host when it was started (/proc/sys/kernel/random/boot_id).
    public var bootID: String? = nil
}

/// Everything `cluster status`, `scale` and `down` need to find and reach the processes of a cluster.
public struct ClusterState: Sendable, Equatable, Codable {
    /// Format version of this file.
    public var version = 1
    /// The run directory (metrics, checkpoints, logs, this file).
    public var runDirectory: String
    /// The hosts file `cluster up` read.
    public var hostsFile: String
    /// The config file and the overrides every role got (user's, then the cluster.* ones).
    public var config: String
    /// Overrides, as `section.key=value`.
    public var overrides: [String]
    /// Where commands ran on local hosts.
    public var directory: String
    /// The rpp binary on local hosts.
    public var binary: String
    /// The learner's base address.
    public var learner: String
    /// Cluster key file (nil = no key) and compression, to build the frame codec of status requests.
    public var keyFile: String?
    /// `auto`, `always` or `never`.
    public var compression: String
    /// The processes, in start order.
    public var processes: [ProcessRecord]

    /// Creates a state.
    public init(
        runDirectory: String, hostsFile: String, config: String, overrides: [String], directory: String,
        binary: String, learner: String, keyFile: String?, compression: String, processes: [ProcessRecord] = []
    ) {
        self.runDirectory = runDirectory
        self.hostsFile = hostsFile
        self.config = config
        self.overrides = overrides
        self.directory = directory
        self.binary = binary
        self.learner = learner
        self.keyFile = keyFile
        self.compression = compression
        self.processes = processes
    }

    /// The state file of a run directory.
    public static func file(in runDirectory: String) -> String {
        (runDirectory as NSString).appendingPathComponent("cluster.json")
    }

    /// Writes `RUN/cluster.json` (atomically).
    public func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: Self.file(in: runDirectory)), options: .atomic)
    }

    /// Reads the state of `location`: a run directory, its `cluster.json`, or a pointer such as `runs/current`.
    public static func load(_ location: String) throws(ClusterError) -> ClusterState {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDir) else {
            throw ClusterError(
                "no cluster at \(location): start one with `rpp cluster up --hosts FILE`, or give "
                    + "--dir RUN_DIRECTORY")
        }
        let path = isDir.boolValue ? file(in: location) : location
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClusterError(
                "\(location) has no cluster state (\(path) is missing): was it started with `rpp cluster up`?")
        }
        do { return try JSONDecoder().decode(ClusterState.self, from: data) } catch {
            throw ClusterError("\(path) is not a cluster state file (\(error)); remove it or give another --dir")
        }
    }

    /// Points `link` (e.g. `runs/current`) at the run directory.
    public func writePointer(_ link: String) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: link)
        try fm.createDirectory(atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try fm.createSymbolicLink(
            atPath: link, withDestinationPath: URL(fileURLWithPath: runDirectory).standardizedFileURL.path)
    }

    /// Rollout workers recorded, in start order.
    public var workers: [ProcessRecord] { processes.filter { $0.spec.role == "rollout" } }

    /// The learner's record, if the cluster has one.
    public var learnerProcess: ProcessRecord? { processes.first { $0.spec.roleValue == .learner } }

    /// The learner's record when that process is no longer running (the run ended or failed).
    public var exitedLearner: ProcessRecord? { learnerProcess.flatMap { ProcessControl.hasExited($0) ? $0 : nil } }

    /// The next free rollout number (`rollout-N`).
    public var nextRolloutNumber: Int {
        (processes.compactMap { $0.spec.id.hasPrefix("rollout-") ? Int($0.spec.id.dropFirst(8)) : nil }.max() ?? 0) + 1
    }
}

/// A cluster operation that cannot go on, as one line saying what to do.
public struct ClusterError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public let description: String
    /// Creates an error.
    public init(_ message: String) { description = message }
}
