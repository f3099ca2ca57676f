import XCTest

// The cluster_status message: a round trip through a frame, an empty one (the request), and the
// invariants its members must keep.
@testable import Wire

final class ClusterStatusTests: XCTestCase {
    func testRoundTripAndRequest() throws {
        let codec = FrameCodec()
        for message in [WireMessage.clusterStatus(ClusterStatus()), Examples.all.last!] {
            XCTAssertEqual(try codec.decode(codec.encode(message)), message)
        }
        XCTAssertEqual(MessageKind.clusterStatus.rawValue, 16)
        XCTAssertEqual(MessageKind.clusterStatus.name, "cluster_status")
    }

    func testMemberInvariants() throws {
        let codec = FrameCodec()
        var bad = Rpp_V1_ClusterStatus()
        var member = Rpp_V1_Status()
        member.workerID = ""
        member.role = .rollout
        bad.members = [member]
        XCTAssertThrowsError(
            try codec.decode(codec.seal(kind: .clusterStatus, payload: try bad.serializedBytes()).bytes)
        ) {
            XCTAssertTrue("\($0)".contains("status.worker_id"), "\($0)")
        }
        member.workerID = "w"
        member.samplesPerSecond = .nan
        bad.members = [member]
        XCTAssertThrowsError(
            try codec.decode(codec.seal(kind: .clusterStatus, payload: try bad.serializedBytes()).bytes)
        ) {
            XCTAssertTrue("\($0)".contains("samples_per_second"), "\($0)")
        }
        member.samplesPerSecond = 1
        bad.members = Array(repeating: member, count: ClusterStatus.maxMembers + 1)
        XCTAssertThrowsError(
            try codec.decode(codec.seal(kind: .clusterStatus, payload: try bad.serializedBytes()).bytes)
        ) {
            XCTAssertTrue("\($0)".contains("cluster_status.members"), "\($0)")
        }
    }
}
