// Sharded checkpoints (model.safetensors.index.json): a damaged index or shard set gives an error that names
// the index, the tensor or the shard, never a partial load.
import TestKit
import XCTest

@testable import Model

final class ShardedCheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-shards").appendingPathComponent("checkpoint")
        try FileManager.default.copyItem(
            at: HFFixtureTests.fixtures.appendingPathComponent("family-llama-sharded"), to: dir)
    }

    var indexURL: URL { dir.appendingPathComponent(SafetensorsCheckpoint.indexFile) }

    /// Rewrites the fixture's index with its weight_map changed by `edit`.
    func editIndex(_ edit: (inout [String: String]) -> Void) throws {
        let original = HFFixtureTests.fixtures.appendingPathComponent(
            "family-llama-sharded/" + SafetensorsCheckpoint.indexFile)
        var index = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: original)) as? [String: Any])
        var map = try XCTUnwrap(index["weight_map"] as? [String: String])
        edit(&map)
        index["weight_map"] = map
        try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
    }

    func loadError() -> String {
        do {
            _ = try Transformer.load(directory: dir)
            return "loaded"
        } catch { return "\(error)" }
    }

    func testTheShardsLoadAsOneCheckpoint() throws {
        let shards = try SafetensorsCheckpoint(directory: dir)
        XCTAssertEqual(shards.files.count, 2)
        let m = try Transformer.load(directory: dir)
        XCTAssertEqual(Set(shards.entries.keys), Set(m.layout.specs.map(\.name)))
    }

    func testDamagedIndexesAreRefusedByName() throws {
        let embed = "model.embed_tokens.weight"
        try editIndex { $0[embed] = "model-00009-of-00009.safetensors" }
        XCTAssertTrue(loadError().contains("model-00009-of-00009.safetensors"), loadError())
        try editIndex { $0[embed] = "../model-00001-of-00002.safetensors" }
        XCTAssertTrue(loadError().contains("weight_map entry \(embed)"), loadError())
        // The index names a shard that does not hold the tensor.
        let shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        var wrong = ""
        try editIndex { map in
            let real =
                try! SafetensorsFile(contentsOf: self.dir.appendingPathComponent(shards[0])).entries[embed] != nil
            wrong = real ? shards[1] : shards[0]
            map[embed] = wrong
        }
        XCTAssertTrue(loadError().contains("puts tensor \(embed) in \(wrong)"), loadError())
        // A shard left out of the index: its tensors are missing.
        try editIndex { map in map = map.filter { $0.value == shards[0] } }
        XCTAssertTrue(loadError().contains("missing tensor"), loadError())
        try Data("{\"weight_map\": []}".utf8).write(to: indexURL)
        XCTAssertTrue(loadError().contains("weight_map"), loadError())
        // Neither model.safetensors nor an index.
        try FileManager.default.removeItem(at: indexURL)
        XCTAssertTrue(loadError().contains("model.safetensors"), "neither weights file: \(loadError())")
    }

    func testATensorInTwoFilesIsRefused() throws {
        let a = try SafetensorsFile(contentsOf: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        XCTAssertThrowsError(try SafetensorsCheckpoint(files: [a, a])) { error in
            XCTAssertTrue("\(error)".contains("is stored in both"), "\(error)")
        }
    }
}
