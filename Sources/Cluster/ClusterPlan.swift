// What `rpp cluster up` starts, derived from a hosts file: one entry per process with its id, host and
// addresses, and the cluster.* overrides that tell every role where the others are.
import Foundation
import Wire

/// One process of a cluster, as planned (before it runs).
public struct ProcessSpec: Sendable, Equatable, Codable {
    /// Unique id: `learner`, `reward-1`, `reference-1`, `rollout-3`.
    public var id: String
    /// Its role (Role's raw value).
    public var role: String
    /// The host's address (as in the hosts file).
    public var host: String
    /// How to run commands on the host.
    public var launcher: Launcher
    /// Working directory on the host (nil = the directory `cluster up` ran in).
    public var directory: String?
    /// The rpp binary on the host (nil = the binary running `cluster up`).
    public var binary: String?
    /// Servers: the address they listen on; the learner: its base address; workers: nil.
    public var listen: String?

    /// The role as an enum.
    public var roleValue: Role { Role(rawValue: role) ?? .rollout }
}

/// Every process of a cluster and where the roles find each other.
public struct ClusterPlan: Sendable, Equatable {
    /// Processes in start order: reference and reward servers, the learner, then rollout workers.
    public var processes: [ProcessSpec]
    /// The learner's base address, `tcp://HOST:PORT`.
    public var learner: String
    /// Reward server addresses.
    public var reward: [String]
    /// Reference server addresses.
    public var reference: [String]

    /// The plan of a hosts file.
    public init(hosts: HostsFile) {
        var servers: [ProcessSpec] = []
        var workers: [ProcessSpec] = []
        var learner = ""
        var reward: [String] = []
        var reference: [String] = []
        var rolloutNumber = 0
        func spec(_ h: HostsFile.Host, _ id: String, _ role: Role, _ listen: String?) -> ProcessSpec {
            ProcessSpec(
                id: id, role: role.rawValue, host: h.address, launcher: h.launcher, directory: h.directory,
                binary: h.binary, listen: listen)
        }
        for h in hosts.hosts {
            for role in [Role.reference, .reward] {
                for i in 0..<h.count(role) {
                    let address = "tcp://\(Self.hostPart(h.networkAddress)):\(h.port(role) + i)"
                    if role == .reward { reward.append(address) } else { reference.append(address) }
                    let n = role == .reward ? reward.count : reference.count
                    servers.append(spec(h, "\(role.rawValue)-\(n)", role, address))
                }
            }
        }
        var learnerSpec: ProcessSpec? = nil
        for h in hosts.hosts {
            if h.count(.learner) > 0 {
                learner = "tcp://\(Self.hostPart(h.networkAddress)):\(h.port(.learner))"
                learnerSpec = spec(h, "learner", .learner, learner)
            }
            for _ in 0..<h.count(.rollout) {
                rolloutNumber += 1
                workers.append(spec(h, "rollout-\(rolloutNumber)", .rollout, nil))
            }
        }
        processes = servers + (learnerSpec.map { [$0] } ?? []) + workers
        self.learner = learner
        self.reward = reward
        self.reference = reference
    }

    /// The `--set` values every role gets: where the learner and the servers are.
    public var overrides: [String] {
        [
            "cluster.learner=\(learner)", "cluster.reward=[\(reward.joined(separator: ","))]",
            "cluster.reference=[\(reference.joined(separator: ","))]",
        ]
    }

    /// IPv6 literals go in brackets in a URL.
    static func hostPart(_ address: String) -> String { address.contains(":") ? "[\(address)]" : address }
}
