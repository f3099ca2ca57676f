import XCTest

final class HelpTests: XCTestCase {
    func testHelpListsTheSubcommands() throws {
        let r = try RPP.run(["--help"])
        XCTAssertEqual(r.status, 0)
        for sub in ["inspect", "bench"] {
            XCTAssertTrue(r.stdout.contains("  \(sub) "), "rpp --help should list \(sub):\n\(r.stdout)")
        }
        XCTAssertTrue(r.stdout.contains("make run"))
    }

    func testGroupsListTheirTools() throws {
        let inspect = try RPP.run(["inspect", "--help"])
        XCTAssertTrue(inspect.stdout.contains("frame"), inspect.stdout)
        XCTAssertTrue(inspect.stdout.contains("advantages"), inspect.stdout)
        let bench = try RPP.run(["bench", "--help"])
        XCTAssertTrue(bench.stdout.contains("wire"), bench.stdout)
    }

    func testUnknownSubcommandIsAnError() throws {
        let r = try RPP.run(["launch-rockets"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("launch-rockets"), r.stderr)
    }

    func testBenchWireRejectsUnknownTable() throws {
        let r = try RPP.run(["bench", "wire", "--only", "everything"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("codec, compression, throughput or security"), r.stderr)
    }
}
