// Where rollout workers on the learner's machine take the weight broadcast: a Unix socket (nanomsg ipc) that the
// learner binds beside its tcp port, and by default a shared-memory file each version is written to once, which the
// announcements on that socket name. A byte through a Unix socket costs the sending host less CPU than through
// loopback TCP, whose receive path also runs on the sender's core, and a version in shared memory is copied once
// for all workers instead of through a socket for each (docs/benchmarks.md).
import Foundation

/// How rollout workers take the weight broadcast (`cluster.weights_socket`).
public enum WeightsSocket: String, Sendable, CaseIterable {
    /// When the learner's address is a loopback one (every worker is then on the learner's machine, in its network
    /// namespace): versions in shared memory, announced on a Unix socket. The tcp port otherwise.
    case auto
    /// A Unix socket carries the versions themselves when the learner's address is a loopback one; the tcp port
    /// otherwise.
    case ipc
    /// Always the tcp port.
    case tcp
}

extension RunConfig.ClusterSection {
    /// The ipc address of the weight broadcast that the learner binds and the rollout workers use, or nil when they
    /// use its tcp port: `weights_socket` is tcp, or `learner` is not a loopback address. The path names the user,
    /// the network namespace (two namespaces can each have a learner on the same loopback port) and the port.
    public func localWeightsEndpoint(
        user: UInt32 = getuid(), namespace: String = NetworkNamespace.current
    ) throws -> String? {
        guard weightsSocket != .tcp else { return nil }
        let base = try ClusterAddress(learner, key: "cluster.learner", tcpOnly: true)
        guard Self.isLoopback(base.host), let port = base.port else { return nil }
        return "ipc:///tmp/rpp-\(user)-\(namespace)-weights-\(port + LearnerPort.weights.rawValue).ipc"
    }

    /// True when the learner writes each version to shared memory for its workers: `weights_socket` is auto and
    /// `learner` a loopback address.
    public func sharesWeightMemory() throws -> Bool {
        guard weightsSocket == .auto else { return false }
        return try localWeightsEndpoint() != nil
    }

    /// `localhost`, `::1` (bracketed or not) or an IPv4 literal in 127.0.0.0/8.
    static func isLoopback(_ host: String) -> Bool {
        if ["localhost", "::1", "[::1]"].contains(host) { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// The network namespace of this process.
public enum NetworkNamespace {
    /// Its inode number (`/proc/self/ns/net` links to `net:[N]`), or "net" where that cannot be read.
    public static var current: String {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net") else {
            return "net"
        }
        let digits = link.filter(\.isNumber)
        return digits.isEmpty ? "net" : "net\(digits)"
    }
}
