extension Role {
    init(wire: Rpp_V1_Role, field: String) throws(FrameError) {
        switch wire {
        case .learner: self = .learner
        case .rollout: self = .rollout
        case .reward: self = .reward
        case .reference: self = .reference
        case .unspecified: throw .invariant(field, "role is unspecified")
        case .UNRECOGNIZED(let raw): throw .invariant(field, "unknown role \(raw)")
        }
    }

    var wire: Rpp_V1_Role {
        switch self {
        case .learner: .learner
        case .rollout: .rollout
        case .reward: .reward
        case .reference: .reference
        }
    }
}

extension Register {
    init(wire w: Rpp_V1_Register) throws(FrameError) {
        guard !w.workerID.isEmpty else { throw .invariant("register.worker_id", "is empty") }
        self.init(
            workerID: w.workerID, role: try Role(wire: w.role, field: "register.role"), host: w.host,
            pid: w.pid, address: w.address, wireVersions: w.wireVersions, softwareVersion: w.softwareVersion)
    }

    var wire: Rpp_V1_Register {
        var w = Rpp_V1_Register()
        w.workerID = workerID
        w.role = role.wire
        w.host = host
        w.pid = pid
        w.address = address
        w.wireVersions = wireVersions
        w.softwareVersion = softwareVersion
        return w
    }
}

extension RegisterReply {
    init(wire w: Rpp_V1_RegisterReply) {
        self.init(
            accepted: w.accepted, reason: w.reason, policyVersion: w.policyVersion,
            weightsAddress: w.weightsAddress, leaseMillis: w.leaseMs)
    }

    var wire: Rpp_V1_RegisterReply {
        var w = Rpp_V1_RegisterReply()
        w.accepted = accepted
        w.reason = reason
        w.policyVersion = policyVersion
        w.weightsAddress = weightsAddress
        w.leaseMs = leaseMillis
        return w
    }
}

extension Heartbeat {
    init(wire w: Rpp_V1_Heartbeat) throws(FrameError) {
        guard !w.workerID.isEmpty else { throw .invariant("heartbeat.worker_id", "is empty") }
        self.init(
            workerID: w.workerID, role: try Role(wire: w.role, field: "heartbeat.role"), sequence: w.sequence,
            policyVersion: w.policyVersion, unixMillis: w.unixMillis)
    }

    var wire: Rpp_V1_Heartbeat {
        var w = Rpp_V1_Heartbeat()
        w.workerID = workerID
        w.role = role.wire
        w.sequence = sequence
        w.policyVersion = policyVersion
        w.unixMillis = unixMillis
        return w
    }
}

extension Status {
    init(wire w: Rpp_V1_Status) throws(FrameError) {
        guard !w.workerID.isEmpty else { throw .invariant("status.worker_id", "is empty") }
        guard w.samplesPerSecond.isFinite, w.samplesPerSecond >= 0 else {
            throw .invariant("status.samples_per_second", "is \(w.samplesPerSecond), expected a finite value ≥ 0")
        }
        self.init(
            workerID: w.workerID, role: try Role(wire: w.role, field: "status.role"), host: w.host, pid: w.pid,
            policyVersion: w.policyVersion, state: w.state, samplesPerSecond: w.samplesPerSecond,
            uptimeMillis: w.uptimeMs, unixMillis: w.unixMillis, unitsDone: w.unitsDone,
            silentMillis: w.silentMs)
    }

    var wire: Rpp_V1_Status {
        var w = Rpp_V1_Status()
        w.workerID = workerID
        w.role = role.wire
        w.host = host
        w.pid = pid
        w.policyVersion = policyVersion
        w.state = state
        w.samplesPerSecond = samplesPerSecond
        w.uptimeMs = uptimeMillis
        w.unixMillis = unixMillis
        w.unitsDone = unitsDone
        w.silentMs = silentMillis
        return w
    }
}

extension ClusterStatus {
    /// At most this many members in one status (a cluster of thousands of processes is not rpp's scale).
    static let maxMembers = 10_000

    init(wire w: Rpp_V1_ClusterStatus) throws(FrameError) {
        guard w.members.count <= Self.maxMembers else {
            throw .invariant("cluster_status.members", "\(w.members.count) entries, at most \(Self.maxMembers)")
        }
        var members: [Status] = []
        for m in w.members { members.append(try Status(wire: m)) }
        self.init(members: members)
    }

    var wire: Rpp_V1_ClusterStatus {
        var w = Rpp_V1_ClusterStatus()
        w.members = members.map(\.wire)
        return w
    }
}

extension RemoteError {
    init(wire w: Rpp_V1_Error) throws(FrameError) {
        let code: Code
        switch w.code {
        case .badRequest: code = .badRequest
        case .unauthenticated: code = .unauthenticated
        case .unsupportedVersion: code = .unsupportedVersion
        case .overloaded: code = .overloaded
        case .internal: code = .internal
        case .notFound: code = .notFound
        case .stale: code = .stale
        case .unspecified: throw .invariant("error.code", "is unspecified")
        case .UNRECOGNIZED(let raw): throw .invariant("error.code", "unknown code \(raw)")
        }
        self.init(code: code, message: w.message, requestID: w.requestID)
    }

    var wire: Rpp_V1_Error {
        var w = Rpp_V1_Error()
        switch code {
        case .badRequest: w.code = .badRequest
        case .unauthenticated: w.code = .unauthenticated
        case .unsupportedVersion: w.code = .unsupportedVersion
        case .overloaded: w.code = .overloaded
        case .internal: w.code = .internal
        case .notFound: w.code = .notFound
        case .stale: w.code = .stale
        }
        w.message = message
        w.requestID = requestID
        return w
    }
}
