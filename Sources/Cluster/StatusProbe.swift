// Asking a running cluster how it is: an empty ClusterStatus to the learner's status port (base + 2),
// answered with the learner and every member it hears from, and the same request to each reward and
// reference server, answered with the server itself. Every request has a deadline.
import Foundation
import RunKit
import Wire

/// Status requests to the learner and the servers of a cluster.
public struct StatusProbe: Sendable {
    /// The frame codec (the cluster key and compression of the run).
    public let codec: FrameCodec
    /// Deadline of one request, in seconds.
    public var timeout: Double

    /// A probe using the key and compression recorded in `state`.
    public init(state: ClusterState, timeout: Double = 3) throws(ClusterError) {
        var section = RunConfig.ClusterSection()
        section.keyFile = state.keyFile
        section.compression = Compression(rawValue: state.compression) ?? .auto
        do { codec = try section.codec() } catch {
            throw ClusterError("cluster.key_file \(state.keyFile ?? ""): \(error)")
        }
        self.timeout = timeout
    }

    /// The learner's status port for base address `learner`.
    public static func learnerStatusAddress(_ learner: String) throws(ClusterError) -> String {
        var section = RunConfig.ClusterSection()
        section.learner = learner
        do { return try section.learnerEndpoint(.status) } catch { throw ClusterError("\(error)") }
    }

    /// The learner's view: itself first, then every live member.
    public func learner(_ base: String) throws(ClusterError) -> [Status] {
        try ask(try Self.learnerStatusAddress(base), what: "learner")
    }

    /// A reward or reference server's own status, or nil if it does not answer in time.
    public func server(_ address: String) -> Status? { (try? ask(address, what: "server"))?.first }

    private func ask(_ address: String, what: String) throws(ClusterError) -> [Status] {
        do {
            let client = try ServiceClient(
                service: "\(what) status", addresses: [address], codec: codec,
                resendInterval: .milliseconds(Int64(max(timeout / 2, 0.2) * 1000)))
            defer { client.close() }
            let reply = try client.call(.clusterStatus(ClusterStatus()), timeout: .milliseconds(Int64(timeout * 1000)))
            guard case .clusterStatus(let s) = reply else {
                throw ClusterError("\(what) at \(address) answered a status request with \(reply.kind.name)")
            }
            return s.members
        } catch let e as ClusterError {
            throw e
        } catch {
            throw ClusterError("\(what) at \(address) did not answer a status request within \(timeout) s (\(error))")
        }
    }
}
