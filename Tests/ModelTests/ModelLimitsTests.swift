// Hostile model files: sizes beyond any machine, overflowing shapes, non-finite numbers and non-finite weights
// each give a one-line error naming the file and the field or tensor, never a trap or an abort.
import TestKit
import XCTest

@testable import Model

final class ModelLimitsTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-model-limits")
    }

    /// The arith policy's config.json with `field` replaced by `value` (JSON text).
    func configJSON(_ field: String, _ value: String) throws -> Data {
        var text = String(decoding: try ModelConfig.smallLlama.jsonData(), as: UTF8.self)
        let pattern = try NSRegularExpression(pattern: "\"\(field)\" : [^,\\n]+")
        let range = NSRange(text.startIndex..., in: text)
        XCTAssertEqual(pattern.numberOfMatches(in: text, range: range), 1, field)
        text = pattern.stringByReplacingMatches(in: text, range: range, withTemplate: "\"\(field)\" : \(value)")
        return Data(text.utf8)
    }

    func testHugeSizesInConfigJSONAreRefusedNamingFileAndField() throws {
        let cases = [
            ("vocab_size", "1000000000000"), ("hidden_size", "4294967296"), ("num_hidden_layers", "1e300"),
            ("intermediate_size", "-5"), ("max_position_embeddings", "99999999999999999999"),
            ("num_attention_heads", "2.5"), ("rms_norm_eps", "1e300"),
        ]
        for (field, value) in cases {
            XCTAssertThrowsError(
                try ModelConfig(jsonData: try configJSON(field, value), source: "runs/x/config.json"),
                field
            ) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("runs/x/config.json") && text.contains(field), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
        // Through Transformer.load, the message names the file's path.
        let path = dir.appendingPathComponent("config.json")
        try configJSON("vocab_size", "1000000000000").write(to: path)
        XCTAssertThrowsError(try Transformer.load(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains(path.path) && "\(error)".contains("vocab_size"), "\(error)")
        }
    }

    func testAModelLargerThanMemoryIsRefusedBeforeAllocating() throws {
        // Every field within its limit, but together far beyond any machine: refused by the memory check.
        let big = ModelConfig(
            hiddenSize: 1 << 16, intermediateSize: 1 << 18, numLayers: 1024, numHeads: 1024,
            vocabSize: 1 << 24, maxPositionEmbeddings: 1 << 20)
        XCTAssertNoThrow(try big.validate())
        XCTAssertGreaterThan(big.allocationBytes ?? 0, 1 << 45)
        XCTAssertThrowsError(try Transformer(config: big)) { error in
            XCTAssertTrue("\(error)".contains("more than this machine's"), "\(error)")
        }
        let small = ModelConfig.smallLlama
        XCTAssertEqual(small.checkedParameterCount, 857_216)
        XCTAssertEqual(small.checkedParameterCount, ParameterLayout(config: small).totalCount)
        XCTAssertThrowsError(try small.checkMemory(available: 1_000_000))
        XCTAssertNoThrow(try small.checkMemory(available: 1 << 30))
        // Through Transformer.load, the memory error names the config file too.
        let cfg = ModelConfig(
            hiddenSize: 1 << 16, intermediateSize: 1 << 18, numLayers: 1024, numHeads: 1024,
            vocabSize: 1 << 24, maxPositionEmbeddings: 64)
        try cfg.jsonData().write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try Transformer.load(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("config.json") && "\(error)".contains("memory"), "\(error)")
        }
    }

    func testParameterCountMatchesTheLayoutForEveryVariant() throws {
        for (bias, tied, scalar) in [(false, false, false), (true, true, false), (true, false, true)] {
            let c = ModelConfig(
                modelType: bias ? "qwen2" : "llama", hiddenSize: 16, intermediateSize: 24, numLayers: 3,
                numHeads: 4, numKVHeads: 2, vocabSize: 11, tieWordEmbeddings: tied, scalarHead: scalar)
            XCTAssertEqual(c.checkedParameterCount, ParameterLayout(config: c).totalCount)
        }
    }

    func testOverflowingShapesAndOffsetsAreBadHeadersNotTraps() throws {
        let cases: [[String: Any]] = [
            ["t": ["dtype": "F32", "shape": [1 << 31, 1 << 31], "data_offsets": [0, 4]]],
            ["t": ["dtype": "F32", "shape": [1 << 62, 4], "data_offsets": [0, 4]]],
            ["t": ["dtype": "F32", "shape": [1], "data_offsets": [0, 1e30]]],
            ["t": ["dtype": "F32", "shape": [1e300], "data_offsets": [0, 4]]],
            ["t": ["dtype": "F32", "shape": [-1], "data_offsets": [0, 4]]],
        ]
        for header in cases {
            let data = try CheckpointTests.file(header: header, body: Data(count: 4))
            XCTAssertThrowsError(try SafetensorsFile(data: data, source: "m.safetensors")) { error in
                XCTAssertTrue("\(error)".contains("m.safetensors"), "\(error)")
            }
        }
        // A header length beyond the limit is refused before anything is read.
        var huge = Data(count: 8)
        huge.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(1 << 40).littleEndian, as: UInt64.self) }
        XCTAssertThrowsError(try SafetensorsFile(data: huge + Data(count: 16))) { error in
            XCTAssertTrue("\(error)".contains("limit"), "\(error)")
        }
    }

    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        m.initializeWeights(seed: 5)
        let spec = m.layout.spec(named: "model.layers.1.mlp.up_proj.weight")!
        m.params.pointer[spec.offset + 3] = .nan
        m.params.pointer[spec.offset + 7] = .infinity
        try m.save(directory: dir)
        XCTAssertThrowsError(try Transformer.load(directory: dir)) { error in
            let expected = ModelError.nonFinite(
                tensor: "model.layers.1.mlp.up_proj.weight", count: 2,
                source: "model.safetensors")
            XCTAssertEqual(error as? ModelError, expected)
            XCTAssertTrue("\(error)".contains("model.layers.1.mlp.up_proj.weight"), "\(error)")
        }
        // All-NaN: the first tensor is named.
        m.params.pointer.update(repeating: .nan, count: m.parameterCount)
        try m.save(directory: dir)
        XCTAssertThrowsError(try Transformer.load(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("model.embed_tokens.weight"), "\(error)")
        }
    }

    func testIOReasonsArePlainWords() {
        XCTAssertEqual(ioReason(CocoaError(.fileWriteVolumeReadOnly)), posixText(EROFS))
        XCTAssertEqual(ioReason(CocoaError(.fileWriteOutOfSpace)), "No space left on device")
        let wrapped = NSError(
            domain: NSCocoaErrorDomain, code: 512,
            userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        XCTAssertEqual(ioReason(wrapped), "No space left on device")
        XCTAssertFalse(ioReason(CocoaError(.fileWriteUnknown)).contains("NSError"))
    }
}
