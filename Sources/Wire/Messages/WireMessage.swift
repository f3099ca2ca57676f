import Foundation
import SwiftProtobuf

/// The message kinds of wire version 1. Raw values are on the wire: never renumber, only add.
public enum MessageKind: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case register = 1
    case registerReply = 2
    case heartbeat = 3
    case status = 4
    case workRequest = 5
    case workUnit = 6
    case rollout = 7
    case scoreRequest = 8
    case scoreReply = 9
    case refLogprobRequest = 10
    case refLogprobReply = 11
    case experienceBatch = 12
    case weightAnnouncement = 13
    case weightChunk = 14
    case error = 15
    case clusterStatus = 16
    case unitFailure = 17
    case weightProgress = 18

    /// The snake_case name used in files and JSON.
    public var name: String {
        switch self {
        case .register: "register"
        case .registerReply: "register_reply"
        case .heartbeat: "heartbeat"
        case .status: "status"
        case .workRequest: "work_request"
        case .workUnit: "work_unit"
        case .rollout: "rollout"
        case .scoreRequest: "score_request"
        case .scoreReply: "score_reply"
        case .refLogprobRequest: "ref_logprob_request"
        case .refLogprobReply: "ref_logprob_reply"
        case .experienceBatch: "experience_batch"
        case .weightAnnouncement: "weight_announcement"
        case .weightChunk: "weight_chunk"
        case .error: "error"
        case .clusterStatus: "cluster_status"
        case .unitFailure: "unit_failure"
        case .weightProgress: "weight_progress"
        }
    }

    public var description: String { name }
}

/// Every message the cluster exchanges, as domain values.
public enum WireMessage: Sendable, Equatable {
    case register(Register)
    case registerReply(RegisterReply)
    case heartbeat(Heartbeat)
    case status(Status)
    case workRequest(WorkRequest)
    case workUnit(WorkUnit)
    case rollout(Rollout)
    case scoreRequest(ScoreRequest)
    case scoreReply(ScoreReply)
    case refLogprobRequest(RefLogprobRequest)
    case refLogprobReply(RefLogprobReply)
    case experienceBatch(ExperienceBatch)
    case weightAnnouncement(WeightAnnouncement)
    case weightChunk(WeightChunk)
    case error(RemoteError)
    case clusterStatus(ClusterStatus)
    case unitFailure(UnitFailure)
    case weightProgress(WeightProgress)

    public var kind: MessageKind {
        switch self {
        case .register: .register
        case .registerReply: .registerReply
        case .heartbeat: .heartbeat
        case .status: .status
        case .workRequest: .workRequest
        case .workUnit: .workUnit
        case .rollout: .rollout
        case .scoreRequest: .scoreRequest
        case .scoreReply: .scoreReply
        case .refLogprobRequest: .refLogprobRequest
        case .refLogprobReply: .refLogprobReply
        case .experienceBatch: .experienceBatch
        case .weightAnnouncement: .weightAnnouncement
        case .weightChunk: .weightChunk
        case .error: .error
        case .clusterStatus: .clusterStatus
        case .unitFailure: .unitFailure
        case .weightProgress: .weightProgress
        }
    }

    /// The protobuf form of this message.
    var proto: any SwiftProtobuf.Message {
        switch self {
        case .register(let m): m.wire
        case .registerReply(let m): m.wire
        case .heartbeat(let m): m.wire
        case .status(let m): m.wire
        case .workRequest(let m): m.wire
        case .workUnit(let m): m.wire
        case .rollout(let m): m.wire
        case .scoreRequest(let m): m.wire
        case .scoreReply(let m): m.wire
        case .refLogprobRequest(let m): m.wire
        case .refLogprobReply(let m): m.wire
        case .experienceBatch(let m): m.wire
        case .weightAnnouncement(let m): m.wire
        case .weightChunk(let m): m.wire
        case .error(let m): m.wire
        case .clusterStatus(let m): m.wire
        case .unitFailure(let m): m.wire
        case .weightProgress(let m): m.wire
        }
    }

    /// Serialized protobuf bytes.
    func serialized() -> [UInt8] {
        // Serialising a fully-initialised proto3 message cannot fail.
        try! proto.serializedBytes()
    }

    /// Decodes a protobuf payload of `kind` and checks the domain invariants.
    static func decode(kind: MessageKind, payload: UnsafeRawBufferPointer) throws(FrameError) -> WireMessage {
        do {
            switch kind {
            case .register: return .register(try Register(wire: try parse(payload)))
            case .registerReply: return .registerReply(RegisterReply(wire: try parse(payload)))
            case .heartbeat: return .heartbeat(try Heartbeat(wire: try parse(payload)))
            case .status: return .status(try Status(wire: try parse(payload)))
            case .workRequest: return .workRequest(try WorkRequest(wire: try parse(payload)))
            case .workUnit: return .workUnit(try WorkUnit(wire: try parse(payload)))
            case .rollout: return .rollout(try Rollout(wire: try parse(payload)))
            case .scoreRequest:
                try RepeatedFieldCount.check(payload, field: 2, atMost: ScoreRequest.maxItems, "score_request.items")
                return .scoreRequest(try ScoreRequest(wire: try parse(payload)))
            case .scoreReply: return .scoreReply(try ScoreReply(wire: try parse(payload)))
            case .refLogprobRequest:
                try RepeatedFieldCount.check(
                    payload, field: 2, atMost: RefLogprobRequest.maxSequences,
                    "ref_logprob_request.sequences")
                return .refLogprobRequest(try RefLogprobRequest(wire: try parse(payload)))
            case .refLogprobReply: return .refLogprobReply(try RefLogprobReply(wire: try parse(payload)))
            case .experienceBatch: return .experienceBatch(try ExperienceBatch(wire: try parse(payload)))
            case .weightAnnouncement: return .weightAnnouncement(try WeightAnnouncement(wire: try parse(payload)))
            case .weightChunk: return .weightChunk(try WeightChunk(wire: try parse(payload)))
            case .error: return .error(try RemoteError(wire: try parse(payload)))
            case .clusterStatus: return .clusterStatus(try ClusterStatus(wire: try parse(payload)))
            case .unitFailure: return .unitFailure(try UnitFailure(wire: try parse(payload)))
            case .weightProgress: return .weightProgress(try WeightProgress(wire: try parse(payload)))
            }
        } catch let error as FrameError {
            throw error
        } catch {
            throw FrameError(.badProtobuf, "payload does not decode as a \(kind.name) message: \(error)")
        }
    }

    /// The protobuf JSON of a payload, for `rpp inspect frame` (no invariant checks).
    static func json(kind: MessageKind, payload: UnsafeRawBufferPointer) throws(FrameError) -> String {
        do {
            let message: any SwiftProtobuf.Message =
                switch kind {
                case .register: try parse(payload) as Rpp_V1_Register
                case .registerReply: try parse(payload) as Rpp_V1_RegisterReply
                case .heartbeat: try parse(payload) as Rpp_V1_Heartbeat
                case .status: try parse(payload) as Rpp_V1_Status
                case .workRequest: try parse(payload) as Rpp_V1_WorkRequest
                case .workUnit: try parse(payload) as Rpp_V1_WorkUnit
                case .rollout: try parse(payload) as Rpp_V1_Rollout
                case .scoreRequest: try parse(payload) as Rpp_V1_ScoreRequest
                case .scoreReply: try parse(payload) as Rpp_V1_ScoreReply
                case .refLogprobRequest: try parse(payload) as Rpp_V1_RefLogprobRequest
                case .refLogprobReply: try parse(payload) as Rpp_V1_RefLogprobReply
                case .experienceBatch: try parse(payload) as Rpp_V1_ExperienceBatch
                case .weightAnnouncement: try parse(payload) as Rpp_V1_WeightAnnouncement
                case .weightChunk: try parse(payload) as Rpp_V1_WeightChunk
                case .error: try parse(payload) as Rpp_V1_Error
                case .clusterStatus: try parse(payload) as Rpp_V1_ClusterStatus
                case .unitFailure: try parse(payload) as Rpp_V1_UnitFailure
                case .weightProgress: try parse(payload) as Rpp_V1_WeightProgress
                }
            var options = JSONEncodingOptions()
            options.preserveProtoFieldNames = true
            return try message.jsonString(options: options)
        } catch {
            throw FrameError(.badProtobuf, "payload does not decode as a \(kind.name) message: \(error)")
        }
    }
}

/// Nested messages deeper than this are refused (protobuf's own default is 100).
let maxProtobufDepth = 32

private func parse<M: SwiftProtobuf.Message>(_ payload: UnsafeRawBufferPointer) throws -> M {
    var options = BinaryDecodingOptions()
    options.messageDepthLimit = maxProtobufDepth
    guard let base = payload.baseAddress, payload.count > 0 else {
        return try M(serializedBytes: Data(), options: options)
    }
    // A view of the caller's buffer, not a copy: the payload may be megabytes.
    let view = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: payload.count, deallocator: .none)
    return try M(serializedBytes: view, options: options)
}
