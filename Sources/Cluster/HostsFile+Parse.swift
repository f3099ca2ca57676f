// Reading the lines of a hosts file (see HostsFile.swift) and checking the file as a whole. Every error
// names the line and says what is allowed.
import Foundation
import Wire

extension HostsFile {
    struct WordError: Error { let message: String }

    static let roleNames = "learner, reference, reward[=N], rollout[=N]"
    static let optionNames =
        "ssh=TARGET, launcher=\"COMMAND\", learner_port=N, reward_port=N, reference_port=N, dir=PATH, rpp=PATH"
    static let portOptions: [String: Role] = [
        "learner_port": .learner, "reward_port": .reward, "reference_port": .reference,
    ]

    /// Splits a line into words: whitespace separates, `"..."` quotes (a value may be quoted, as in
    /// `launcher="ip netns exec h2"`), `#` outside quotes starts a comment.
    static func words(_ line: String) throws(WordError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        for c in line {
            if quoted {
                if c == "\"" { quoted = false } else { current.append(c) }
            } else if c == "\"" {
                quoted = true
                inWord = true
            } else if c == "#" {
                break
            } else if c.isWhitespace {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            } else {
                current.append(c)
                inWord = true
            }
        }
        if quoted {
            throw WordError(message: "a quote \" is not closed; close it, as in launcher=\"ip netns exec h2\"")
        }
        if inWord { words.append(current) }
        return words
    }

    /// One host line: the address, then roles and options in any order.
    static func host(_ words: [String], line: Int, path: String) throws(HostsFileError) -> Host {
        func fail(_ message: String) -> HostsFileError { HostsFileError(path: path, line: line, message) }
        let address = words[0]
        if address.contains("://") {
            throw fail("'\(address)' is a URL; start the line with the host's name or IP address, like 10.0.0.2")
        }
        if address.contains("=") || Role(rawValue: address) != nil {
            throw fail("a line starts with the host's address, then its roles; '\(address)' is not an address")
        }
        guard address.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:".contains($0) }) else {
            throw fail("'\(address)' is not a host name or IP address")
        }
        if address.hasPrefix("-") {
            throw fail(
                "'\(address)' begins with '-', which ssh would read as an option; start the line with the host's "
                    + "name or IP address")
        }
        var host = Host(
            line: line, address: address, counts: [:], ports: [:], launcher: .local, directory: nil, binary: nil)
        var reach: String? = nil
        var seen = Set<String>()
        for word in words.dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = parts[0]
            let value = parts.count > 1 ? parts[1] : nil
            guard seen.insert(key).inserted else { throw fail("'\(key)' appears twice on this line; give it once") }
            if let role = Role(rawValue: key) {
                var count = 1
                if let value {
                    guard let n = Int(value), (0...maxCount).contains(n) else {
                        throw fail("\(key)=\(value): the count must be a whole number from 0 to \(maxCount)")
                    }
                    count = n
                }
                if role == .learner && count != 1 {
                    throw fail("learner=\(count): a cluster has exactly one learner; write learner")
                }
                host.counts[role] = count
                continue
            }
            guard let value else {
                throw fail("unknown role '\(key)'; roles are \(roleNames), options are \(optionNames)")
            }
            guard !value.isEmpty else { throw fail("\(key)= has no value") }
            if value.hasPrefix("-") && ["ssh", "launcher", "rpp"].contains(key) {
                throw fail(
                    "\(key)=\(value) begins with '-', which would be read as an option; give "
                        + (key == "ssh"
                            ? "the target, like ssh=rpp@gpu2" : key == "rpp" ? "the binary's path" : "a command"))
            }
            switch key {
            case "ssh", "launcher":
                if let other = reach {
                    throw fail("give one of ssh= and launcher=, not both (\(other)= is already here)")
                }
                reach = key
                if key == "ssh" {
                    host.launcher = .ssh(value)
                } else {
                    guard let words = try? HostsFile.words(value), !words.isEmpty else {
                        throw fail("launcher= is empty")
                    }
                    host.launcher = .prefix(words)
                }
            case "learner_port", "reward_port", "reference_port":
                let role = portOptions[key]!
                let top = 65535 - (role == .learner ? 3 : 0)
                guard let port = Int(value), (1...top).contains(port) else {
                    throw fail(
                        "\(key)=\(value): a port is a number from 1 to \(top)"
                            + (role == .learner ? " (the learner uses it and the next three)" : ""))
                }
                host.ports[role] = port
            case "dir": host.directory = value
            case "rpp": host.binary = value
            default:
                throw fail("unknown option '\(key)'; options are \(optionNames), roles are \(roleNames)")
            }
        }
        if host.counts.isEmpty { throw fail("host \(address) runs no role; add roles: \(roleNames)") }
        for (role, _) in host.ports where host.counts[role] == nil {
            throw fail("\(role.rawValue)_port is given but this host runs no \(role.rawValue)")
        }
        if reach == nil && !isLoopback(address) { host.launcher = .ssh(address) }
        let listeners = [Role.learner, .reward, .reference].filter { host.count($0) > 0 }
        if !listeners.isEmpty && !isIPAddress(host.networkAddress) {
            throw fail(
                "\(address) runs \(listeners.map(\.rawValue).joined(separator: ", ")), which listen on this line's "
                    + "address, and a listening socket needs an IP address: write \(address)'s IP address here "
                    + "(ssh=\(address) still reaches it by name)")
        }
        try checkPorts(host, fail: fail)
        return host
    }

    /// True for addresses that mean this machine.
    static func isLoopback(_ address: String) -> Bool {
        address.lowercased() == "localhost" || address == "::1" || address.hasPrefix("127.")
    }

    /// True for an IPv4 or IPv6 literal.
    static func isIPAddress(_ address: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1
    }

    /// The ports a host's roles use must not overlap.
    static func checkPorts(_ host: Host, fail: (String) -> HostsFileError) throws(HostsFileError) {
        var owner: [Int: String] = [:]
        for role in [Role.learner, .reward, .reference] where host.count(role) > 0 {
            let first = host.port(role)
            let n = role == .learner ? 4 : host.count(role)
            guard first + n - 1 <= 65535 else {
                throw fail(
                    "\(role.rawValue) ports \(first)...\(first + n - 1) go past 65535; pick a lower \(role.rawValue)_port"
                )
            }
        }
        for (port, role) in host.listeningPorts {
            if let other = owner[port] {
                throw fail(
                    "port \(port) is used by both \(other) and \(role.rawValue); "
                        + "set \(role.rawValue)_port to a free range")
            }
            owner[port] = role.rawValue
        }
    }

    /// Lines that run on the same machine (this one, or one ssh target or launcher) must not share a port.
    func checkPortsAcrossLines() throws(HostsFileError) {
        var owner: [String: [Int: (line: Int, role: Role)]] = [:]
        for h in hosts {
            for (port, role) in h.listeningPorts {
                if let other = owner[h.machine]?[port] {
                    throw HostsFileError(
                        path: path, line: h.line,
                        "port \(port) (\(role.rawValue)) is also used by line "
                            + "\(other.line) (\(other.role.rawValue)), and both lines run on "
                            + (h.launcher == .local ? "this machine" : h.machine)
                            + "; give this line another \(role.rawValue)_port")
                }
                owner[h.machine, default: [:]][port] = (h.line, role)
            }
        }
    }

    /// Whole-file rules: one learner, at least one reward and one reference server, one line per address, and
    /// no port used twice on one machine.
    func validate() throws(HostsFileError) {
        var lineOf: [String: Int] = [:]
        for h in hosts {
            if let first = lineOf[h.networkAddress] {
                let earlier = hosts.first { $0.line == first }?.address ?? h.address
                throw HostsFileError(
                    path: path, line: h.line,
                    "host \(h.address) is already on line \(first)"
                        + (earlier == h.address ? "" : " (as \(earlier))") + "; put all its roles on one line")
            }
            lineOf[h.networkAddress] = h.line
        }
        try checkPortsAcrossLines()
        let learners = hosts.filter { $0.count(.learner) > 0 }
        if learners.count > 1 {
            throw HostsFileError(
                path: path, line: learners[1].line,
                "a second learner (the first is on line \(learners[0].line)); a cluster has exactly one")
        }
        guard !learners.isEmpty else {
            throw HostsFileError(path: path, line: nil, "no host runs the learner; add `learner` to one line")
        }
        for role in [Role.reward, .reference] where total(role) == 0 {
            throw HostsFileError(
                path: path, line: nil, "no host runs a \(role.rawValue) server; add `\(role.rawValue)` to a line")
        }
    }
}
