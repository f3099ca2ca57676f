// Whether a run without a cluster key is exposed beyond this host: any tcp address whose host is not a
// loopback address (127.0.0.0/8, ::1, localhost) can be reached from other machines, and then anyone who can
// reach those ports can submit work results, request scores or read the weights.

extension RunConfig.ClusterSection {
    /// The addresses of this section that other hosts can reach (tcp, host not loopback).
    public var nonLoopbackAddresses: [String] {
        var addresses: [String] = []
        if let base = try? learnerEndpoint(.control) { addresses.append(base) }
        addresses += reward + reference
        return addresses.filter { address in
            guard let parsed = try? ClusterAddress(address, key: "", tcpOnly: false) else { return false }
            return parsed.scheme == "tcp" && !Self.isLoopback(host: parsed.host)
        }
    }

    /// A one-line warning when a multi-host cluster runs without a key, nil otherwise.
    public var missingKeyWarning: String? {
        guard keyFile == nil else { return nil }
        let exposed = nonLoopbackAddresses
        guard !exposed.isEmpty else { return nil }
        return "WARNING: cluster.key_file is not set but \(exposed.joined(separator: ", ")) "
            + "\(exposed.count == 1 ? "is" : "are") reachable from other hosts: frames are neither authenticated nor "
            + "encrypted, so anyone who can reach these ports can send work results and read the weights; set "
            + "cluster.key_file=PATH on every host (make a key with `openssl rand -hex 32 > cluster.key`)"
    }

    /// Whether `host` (as written in a tcp address) names this machine only.
    static func isLoopback(host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
