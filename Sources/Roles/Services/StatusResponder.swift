// Status for the reward and reference servers: wraps a server's handler so that a status request (an empty
// ClusterStatus) is answered with the server's own Status (role, host, pid, samples scored per second over
// the last 30 s, requests answered), which is how `rpp cluster status` probes servers.
import Foundation
import Wire

/// Answers status requests for a server and counts what its handler serves.
public final class StatusResponder: @unchecked Sendable {
    /// The server's role (reward or reference).
    public let role: Role
    /// The id it reports (its address).
    public let id: String
    private let lock = NSLock()
    private var samples = RateMeter(startedAt: monotonicMillis())
    private var requests: UInt64 = 0

    /// A responder for a server of `role` reporting as `id`.
    public init(role: Role, id: String) {
        self.role = role
        self.id = id
    }

    /// The server's status now.
    public var status: Status {
        let now = monotonicMillis()
        return lock.withLock {
            Status(
                workerID: id, role: role, host: ProcessInfo.processInfo.hostName,
                pid: ProcessInfo.processInfo.processIdentifier, policyVersion: 0, state: "serving",
                samplesPerSecond: samples.perSecond(now: now), uptimeMillis: now - samples.startedAt,
                unixMillis: Int64(Date().timeIntervalSince1970 * 1000), unitsDone: requests)
        }
    }

    /// `handler`, answering status requests itself and counting the samples of every reply.
    public func wrap(_ handler: @escaping RequestHandler) -> RequestHandler {
        { [self] request in
            if case .clusterStatus(let asked) = request, asked.members.isEmpty {
                return .clusterStatus(ClusterStatus(members: [status]))
            }
            let reply = try handler(request)
            let n: Int
            switch reply {
            case .scoreReply(let r): n = r.rewards.count
            case .refLogprobReply(let r): n = r.logprobs.count
            default: n = 0
            }
            lock.withLock {
                requests += 1
                samples.add(n, at: monotonicMillis())
            }
            return reply
        }
    }
}
