// The hosts file of `rpp cluster up`: one line per host with its address, the roles it runs and how many
// of each, optional first ports, and how to reach it. `#` starts a comment; blank lines are skipped.
//
//   # address   roles              options
//   127.0.0.1   learner reward reference rollout=2
//   10.0.0.2    rollout=4          ssh=rpp@gpu2 dir=/srv/rpp
//   10.0.0.3    reward=2           reward_port=5710 ssh=rpp@node3
//   10.77.0.2   rollout            launcher="ip netns exec h2"
//
// Roles: learner (exactly one in the file), reference, reward (at least one of each; `=N` runs N servers
// on consecutive ports) and rollout (`=N` workers, 0 allowed). Options: ssh=TARGET (sugar for the launcher
// `ssh -o BatchMode=yes TARGET`), launcher=COMMAND (a prefix that runs a command on the host, e.g.
// `ip netns exec h2`), learner_port (base of the learner's four ports, default 5600), reward_port (5610),
// reference_port (5620), dir (working directory on the host, default the current one), rpp (the binary
// on the host, default this one's path). A loopback address without ssh or launcher runs locally; any
// other address without them is reached with `ssh ADDRESS`. A line that runs the learner or a server
// needs an IP address (they listen on it; `localhost` counts as 127.0.0.1); lines that run on the same
// machine cannot share a port; no address or ssh=, launcher= or rpp= value may begin with `-`.
import Foundation
import Wire

/// A parsed and validated hosts file.
public struct HostsFile: Sendable, Equatable {
    /// One line: a host and what runs on it.
    public struct Host: Sendable, Equatable {
        /// Line number in the file (1-based).
        public var line: Int
        /// Host name or IP address the other processes use to reach it.
        public var address: String
        /// How many processes of each role (absent = 0).
        public var counts: [Role: Int]
        /// First port of each server role and the learner's base port.
        public var ports: [Role: Int]
        /// How to run commands there.
        public var launcher: Launcher
        /// Working directory there (nil = the current directory).
        public var directory: String?
        /// The rpp binary there (nil = this binary's path).
        public var binary: String?

        /// Processes of `role` on this host.
        public func count(_ role: Role) -> Int { counts[role] ?? 0 }
        /// First port of `role` on this host (the default when not given).
        public func port(_ role: Role) -> Int { ports[role] ?? HostsFile.defaultPorts[role] ?? 0 }

        /// The address the learner and the servers listen on and the others connect to: the line's address,
        /// with `localhost` (a name a listening socket cannot take) as 127.0.0.1.
        public var networkAddress: String { address.lowercased() == "localhost" ? "127.0.0.1" : address }

        /// The machine the line's processes run on: this one, the ssh target's host, or the launcher.
        public var machine: String {
            switch launcher {
            case .local: "local"
            case .ssh(let target): String(target.split(separator: "@").last ?? Substring(target)).lowercased()
            case .prefix(let words): words.joined(separator: " ")
            }
        }

        /// Every port the line's learner (base and the next three) and servers listen on, with the role.
        public var listeningPorts: [(port: Int, role: Role)] {
            [Role.learner, .reward, .reference].filter { count($0) > 0 }.flatMap { role in
                let first = port(role)
                let n = role == .learner ? 4 : count(role)
                return (first..<(first + n)).map { ($0, role) }
            }
        }
    }

    /// Default first ports: learner base (it uses +0..+3), reward and reference servers.
    public static let defaultPorts: [Role: Int] = [.learner: 5600, .reward: 5610, .reference: 5620]
    /// Most processes of one role on one host.
    public static let maxCount = 64
    /// The hosts, in file order.
    public var hosts: [Host]
    /// Where the file came from (for messages).
    public var path: String

    /// Reads and validates `path`.
    public static func load(path: String) throws(HostsFileError) -> HostsFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HostsFileError(
                path: path, line: nil,
                "cannot read the hosts file; give an existing file with --hosts "
                    + "(see Deploy/hosts.local)")
        }
        return try HostsFile(text: String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses and validates hosts file text.
    public init(text: String, path: String = "hosts") throws(HostsFileError) {
        self.path = path
        var hosts: [Host] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words: [String]
            do { words = try HostsFile.words(String(raw)) } catch {
                throw HostsFileError(path: path, line: index + 1, error.message)
            }
            guard !words.isEmpty else { continue }
            hosts.append(try HostsFile.host(words, line: index + 1, path: path))
        }
        self.hosts = hosts
        try validate()
    }

    /// Processes of `role` over every host.
    public func total(_ role: Role) -> Int { hosts.reduce(0) { $0 + $1.count(role) } }
}

/// A hosts file that cannot be used: where and why, and what is allowed.
public struct HostsFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file.
    public var path: String
    /// The line (1-based), nil for the file as a whole.
    public var line: Int?
    /// What is wrong and what to do.
    public var message: String

    init(path: String, line: Int?, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

/// How `rpp cluster` runs commands on a host.
public enum Launcher: Sendable, Equatable, Codable {
    /// On this machine, with /bin/sh.
    case local
    /// Through ssh: `ssh -o BatchMode=yes TARGET 'script'` (the remote shell runs the script).
    case ssh(String)
    /// Through a prefix that runs a program there: `PREFIX... sh -c 'script'` (e.g. `ip netns exec h2`).
    case prefix([String])

    /// A short description for tables and messages.
    public var summary: String {
        switch self {
        case .local: "local"
        case .ssh(let target): "ssh \(target)"
        case .prefix(let words): words.joined(separator: " ")
        }
    }
}
