/// The roles of an rpp cluster.
public enum Role: String, Sendable, CaseIterable {
    case learner, rollout, reward, reference
}

/// A process announces itself.
public struct Register: Sendable, Equatable {
    public var workerID: String
    public var role: Role
    public var host: String
    public var pid: Int32
    public var address: String
    public var wireVersions: [UInt32]
    public var softwareVersion: String

    public init(
        workerID: String, role: Role, host: String, pid: Int32, address: String = "",
        wireVersions: [UInt32] = FrameHeader.supportedVersions, softwareVersion: String = ""
    ) {
        self.workerID = workerID
        self.role = role
        self.host = host
        self.pid = pid
        self.address = address
        self.wireVersions = wireVersions
        self.softwareVersion = softwareVersion
    }
}

public struct RegisterReply: Sendable, Equatable {
    public var accepted: Bool
    public var reason: String
    public var policyVersion: UInt64
    public var weightsAddress: String
    public var leaseMillis: UInt32

    public init(
        accepted: Bool, reason: String = "", policyVersion: UInt64 = 0, weightsAddress: String = "",
        leaseMillis: UInt32 = 0
    ) {
        self.accepted = accepted
        self.reason = reason
        self.policyVersion = policyVersion
        self.weightsAddress = weightsAddress
        self.leaseMillis = leaseMillis
    }
}

public struct Heartbeat: Sendable, Equatable {
    public var workerID: String
    public var role: Role
    public var sequence: UInt64
    public var policyVersion: UInt64
    public var unixMillis: Int64

    public init(workerID: String, role: Role, sequence: UInt64, policyVersion: UInt64, unixMillis: Int64) {
        self.workerID = workerID
        self.role = role
        self.sequence = sequence
        self.policyVersion = policyVersion
        self.unixMillis = unixMillis
    }
}

/// A process's status: who it is, what it is doing and how fast.
public struct Status: Sendable, Equatable {
    public var workerID: String
    public var role: Role
    public var host: String
    public var pid: Int32
    public var policyVersion: UInt64
    public var state: String
    public var samplesPerSecond: Double
    public var uptimeMillis: Int64
    public var unixMillis: Int64
    public var unitsDone: UInt64
    /// In a `ClusterStatus` from the learner: milliseconds since the learner last heard from this process.
    public var silentMillis: Int64

    public init(
        workerID: String, role: Role, host: String, pid: Int32, policyVersion: UInt64, state: String,
        samplesPerSecond: Double = 0, uptimeMillis: Int64 = 0, unixMillis: Int64 = 0, unitsDone: UInt64 = 0,
        silentMillis: Int64 = 0
    ) {
        self.workerID = workerID
        self.role = role
        self.host = host
        self.pid = pid
        self.policyVersion = policyVersion
        self.state = state
        self.samplesPerSecond = samplesPerSecond
        self.uptimeMillis = uptimeMillis
        self.unixMillis = unixMillis
        self.unitsDone = unitsDone
        self.silentMillis = silentMillis
    }
}

/// The status of several processes. An empty one asks for status: the learner answers on its status port
/// with itself and every live member, a reward or reference server with itself.
public struct ClusterStatus: Sendable, Equatable {
    /// One entry per process.
    public var members: [Status]

    /// A status list; `ClusterStatus()` is the request.
    public init(members: [Status] = []) { self.members = members }
}

/// An error one process reports to another.
public struct RemoteError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case badRequest, unauthenticated, unsupportedVersion, overloaded, `internal`, notFound, stale
    }
    public var code: Code
    public var message: String
    public var requestID: UInt64

    public init(code: Code, message: String, requestID: UInt64 = 0) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    public var description: String { "remote error (\(code.rawValue)): \(message)" }
}
