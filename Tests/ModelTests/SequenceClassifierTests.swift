// Sequence-classification checkpoints written by transformers (Tests/Scripts/make_classifier_fixture.py):
// rpp's pooled logits must match transformers' within 1e-4, alone, packed and as the rows of padded batches;
// checkpoints of another kind or whose head disagrees with config.json are refused with the directory named.
import TestKit
import XCTest

@testable import Model

final class SequenceClassifierTests: XCTestCase {
    static let fixtures = Fixtures.url("model")
    static let single = fixtures.appendingPathComponent("classifier-llama")
    static let twoLabels = fixtures.appendingPathComponent("classifier-llama-2labels")

    static func expected(_ dir: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json")))
            as! [String: Any]
    }

    static func ids(_ any: Any?) -> [Int32] { (any as! [NSNumber]).map { Int32(truncating: $0) } }
    static func floats(_ any: Any?) -> [Double] { (any as! [NSNumber]).map(\.doubleValue) }

    func testScoresMatchTransformersAloneAndPacked() throws {
        let model = try SequenceClassifier.load(directory: Self.single)
        XCTAssertEqual(model.numLabels, 1)
        XCTAssertEqual(model.head.architecture, "LlamaForSequenceClassification")
        XCTAssertEqual(model.head.padTokenID, 0)
        let texts = try Self.expected(Self.single)["texts"] as! [[String: Any]]
        XCTAssertEqual(texts.count, 6)
        let rows = texts.map { Self.ids($0["ids"]) }
        let want = texts.map { Self.floats($0["logits"]) }
        XCTAssertEqual(rows[4].last, 0, "one text ends with the pad token")
        for (i, row) in rows.enumerated() {
            assertClose(try model.scores([row])[0], want[i], tol: 1e-4, "text \(i) alone")
        }
        let packed = try model.scores(rows)
        for i in rows.indices { assertClose(packed[i], want[i], tol: 1e-4, "text \(i) packed with the others") }
    }

    func testEndingInThePadTokenScoresTheTokenBefore() throws {
        let model = try SequenceClassifier.load(directory: Self.single)
        let text = (try Self.expected(Self.single)["texts"] as! [[String: Any]])[4]
        let row = Self.ids(text["ids"])
        XCTAssertEqual(model.head.poolingIndex(row), row.count - 2)
        // transformers' number is the logit at the token before the trailing pad token, not at the last one.
        let atPad = try model.trunk.sequenceValues([row])[0]
        assertClose([atPad[row.count - 2]], Self.floats(text["logits"]), tol: 1e-4, "value before the pad token")
        XCTAssertGreaterThan(abs(Double(atPad[row.count - 1]) - Self.floats(text["logits"])[0]), 1e-3)
    }

    func testLeftAndRightPaddedBatchesMatchTransformers() throws {
        let model = try SequenceClassifier.load(directory: Self.single)
        let batches = try Self.expected(Self.single)["padded"] as! [[String: Any]]
        XCTAssertEqual(batches.map { $0["side"] as! String }, ["left", "right"])
        for batch in batches {
            let side = batch["side"] as! String
            let rows = (batch["input_ids"] as! [Any]).map { Self.ids($0) }
            let masks = (batch["attention_mask"] as! [Any]).map { Self.ids($0) }
            let want = (batch["logits"] as! [Any]).map { Self.floats($0) }
            let unpadded = zip(rows, masks).map { row, mask in zip(row, mask).filter { $0.1 == 1 }.map(\.0) }
            XCTAssertTrue(zip(rows, unpadded).contains { $0.count > $1.count }, "\(side): some row is padded")
            let got = try model.scores(unpadded)
            for i in rows.indices {
                assertClose(got[i], want[i], tol: 1e-4, "\(side)-padded row \(i)")
                // The pooled token of the padded row is the pooled token of the unpadded one.
                XCTAssertEqual(
                    rows[i][model.head.poolingIndex(rows[i])],
                    unpadded[i][model.head.poolingIndex(unpadded[i])])
            }
        }
    }

    func testTwoLabelsMatchTransformers() throws {
        let model = try SequenceClassifier.load(directory: Self.twoLabels)
        XCTAssertEqual(model.numLabels, 2)
        XCTAssertEqual(model.head.labels, ["bad", "good"])
        let exp = try Self.expected(Self.twoLabels)
        let rows = (exp["rows"] as! [Any]).map { Self.ids($0) }
        let want = (exp["logits"] as! [Any]).map { Self.floats($0) }
        let got = try model.scores(rows)
        for i in rows.indices { assertClose(got[i], want[i], tol: 1e-4, "row \(i)") }
    }

    func testQwen2WithoutPadTokenScoresTheLastToken() throws {
        let dir = Self.fixtures.appendingPathComponent("classifier-qwen2-nopad")
        let model = try SequenceClassifier.load(directory: dir)
        XCTAssertNil(model.head.padTokenID)
        XCTAssertTrue(model.config.attentionBias && model.config.tieWordEmbeddings)
        let exp = try Self.expected(dir)
        let rows = (exp["rows"] as! [Any]).map { Self.ids($0) }
        XCTAssertEqual(rows[0].last, 0, "a row ending in token 0, which is no pad token here")
        let want = (exp["logits"] as! [Any]).map { Self.floats($0) }
        let got = try model.scores(rows)
        for i in rows.indices { assertClose(got[i], want[i], tol: 1e-4, "row \(i)") }
    }

    func testActivationBudgetGivesTokensThatFit() throws {
        let model = try SequenceClassifier.load(directory: Self.single)
        let bytes = model.activationBytes(tokens: 300)
        XCTAssertGreaterThan(bytes, model.activationBytes(tokens: 299))
        XCTAssertEqual(model.tokens(withinActivationBytes: bytes), 300)
        XCTAssertEqual(model.tokens(withinActivationBytes: bytes - 1), 299)
        XCTAssertEqual(model.tokens(withinActivationBytes: 0), 1, "one sequence always runs")
    }

    func testPoolingIndexIsTheRightmostTokenThatIsNotPadding() {
        let head = ClassifierHead(architecture: nil, numLabels: 1, padTokenID: 0)
        XCTAssertEqual(head.poolingIndex([5, 6, 7]), 2)
        XCTAssertEqual(head.poolingIndex([5, 6, 0, 0]), 1, "right padding")
        XCTAssertEqual(head.poolingIndex([0, 0, 5, 6]), 3, "left padding")
        XCTAssertEqual(head.poolingIndex([5, 0, 6, 0]), 2, "a pad id inside the text does not stop the search")
        XCTAssertEqual(head.poolingIndex([0, 0, 0]), 0, "all padding: position 0, as transformers' argmax")
        XCTAssertEqual(head.poolingIndex([7]), 0)
        let noPad = ClassifierHead(architecture: nil, numLabels: 1, padTokenID: nil)
        XCTAssertEqual(noPad.poolingIndex([5, 0, 0]), 2, "no pad token: the last position")
    }

    func head(_ json: String) throws -> ClassifierHead {
        try ClassifierHead(configJSON: Data(json.utf8), directory: "/models/rm")
    }

    func testHeadConfigReadsLabelsAsTransformersDoes() throws {
        let arch = #""architectures": ["Qwen2ForSequenceClassification"]"#
        XCTAssertEqual(
            try head("{\(arch), \"num_labels\": 1, \"pad_token_id\": 7}"),
            ClassifierHead(architecture: "Qwen2ForSequenceClassification", numLabels: 1, padTokenID: 7))
        let withMap = try head(#"{\#(arch), "num_labels": 5, "id2label": {"1": "b", "0": "a"}}"#)
        XCTAssertEqual(withMap.numLabels, 2, "id2label wins over num_labels")
        XCTAssertEqual(withMap.labels, ["a", "b"])
        XCTAssertNil(withMap.padTokenID)
        XCTAssertEqual(try head("{\(arch)}").numLabels, 2, "transformers' default")
        XCTAssertNil(try head("{\(arch), \"pad_token_id\": null}").padTokenID)
        XCTAssertEqual(try head(#"{"rpp_scalar_head": true, "num_labels": 1}"#).architecture, nil)
    }

    func testHeadConfigRefusals() {
        func code(_ json: String) -> ClassifierError.Code? {
            do {
                _ = try head(json)
                return nil
            } catch let e as ClassifierError {
                XCTAssertTrue(e.description.contains("/models/rm"), e.description)
                return e.code
            } catch {
                XCTFail("\(error)")
                return nil
            }
        }
        XCTAssertEqual(code(#"{"architectures": ["LlamaForCausalLM"]}"#), .notClassifier)
        XCTAssertEqual(code(#"{"model_type": "llama"}"#), .notClassifier)
        XCTAssertEqual(code(#"{"architectures": ["LlamaForSequenceClassification"], "num_labels": 0}"#), .invalidConfig)
        XCTAssertEqual(
            code(#"{"architectures": ["LlamaForSequenceClassification"], "id2label": {"1": "x"}}"#),
            .invalidConfig)
        XCTAssertEqual(
            code(#"{"architectures": ["LlamaForSequenceClassification"], "pad_token_id": "0"}"#),
            .invalidConfig)
        XCTAssertEqual(code("[1]"), .invalidConfig)
    }

    func loadError(_ dir: URL) -> ClassifierError? {
        do {
            _ = try SequenceClassifier.load(directory: dir)
            return nil
        } catch let e as ClassifierError {
            XCTAssertEqual(e.directory, dir.path)
            XCTAssertTrue(e.description.contains(dir.path), e.description)
            return e
        } catch {
            XCTFail("\(error)")
            return nil
        }
    }

    func testRefusesACausalLanguageModel() throws {
        let e = try XCTUnwrap(loadError(Self.fixtures.appendingPathComponent("llama-companions")))
        XCTAssertEqual(e.code, .notClassifier)
        XCTAssertTrue(e.message.contains("LlamaForCausalLM"), e.message)
    }

    /// A copy of the single-label fixture with `config` edited and tensors replaced (nil removes one).
    func variant(
        config edit: (inout [String: Any]) -> Void = { _ in },
        tensors change: [String: (shape: [Int], values: [Float])?] = [:]
    ) throws -> URL {
        let dir = try temporaryDirectory("rpp-classifier")
        var config =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.single.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        let file = try SafetensorsFile(contentsOf: Self.single.appendingPathComponent("model.safetensors"))
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, entry) in file.entries {
            var values = [Float](repeating: 0, count: entry.shape.reduce(1, *))
            try values.withUnsafeMutableBufferPointer { try file.read(name, into: $0.baseAddress!) }
            tensors[name] = (entry.shape, values)
        }
        for (name, value) in change { tensors[name] = value }
        let names = tensors.keys.sorted()
        let arrays = names.map { tensors[$0]!.values }
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        defer { for buffer in buffers { buffer.deallocate() } }
        for a in arrays {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(a.count, 1))
            _ = b.initialize(from: a)
            buffers.append(b)
        }
        let list = zip(names, buffers).map { name, buffer in
            (
                name: name, shape: tensors[name]!.shape,
                values: UnsafeBufferPointer(start: buffer.baseAddress, count: tensors[name]!.values.count)
            )
        }
        try SafetensorsFile.serialize(list).write(to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    func testVariantWithNoChangeLoadsAndScoresAlike() throws {
        let model = try SequenceClassifier.load(directory: try variant())
        let reference = try SequenceClassifier.load(directory: Self.single)
        XCTAssertEqual(try model.scores([[1, 57, 74]]), try reference.scores([[1, 57, 74]]))
    }

    func testRefusesMissingScoreWeight() throws {
        let e = try XCTUnwrap(loadError(try variant(tensors: ["score.weight": nil])))
        XCTAssertEqual(e.code, .invalidCheckpoint)
        XCTAssertTrue(e.message.contains("no score.weight"), e.message)
        // A language model's weights under a classifier's config.json.
        let lm = try variant(tensors: [
            "score.weight": nil,
            "lm_head.weight": ([603, 16], [Float](repeating: 0.01, count: 603 * 16)),
        ])
        XCTAssertEqual(loadError(lm)?.code, .notClassifier)
    }

    func testRefusesLabelsThatDisagreeWithScoreWeight() throws {
        let three = try variant {
            $0["id2label"] = ["0": "a", "1": "b", "2": "c"]
            $0["label2id"] = nil
        }
        let e = try XCTUnwrap(loadError(three))
        XCTAssertEqual(e.code, .invalidCheckpoint)
        XCTAssertTrue(e.message.contains("score.weight has 1 rows") && e.message.contains("declares 3"), e.message)
        // A config without id2label or num_labels means 2 labels to transformers.
        let bare = try variant {
            $0["id2label"] = nil
            $0["label2id"] = nil
        }
        XCTAssertTrue(try XCTUnwrap(loadError(bare)).message.contains("declares 2"))
        let wide = try variant(tensors: ["score.weight": ([1, 8], [Float](repeating: 0, count: 8))])
        XCTAssertTrue(try XCTUnwrap(loadError(wide)).message.contains("expected [num_labels, hidden_size 16]"))
    }

    func testRefusesBadSequences() throws {
        let model = try SequenceClassifier.load(directory: Self.single)
        XCTAssertEqual(try model.scores([]), [])
        for (rows, needle) in [
            ([[Int32]()], "sequence 0 is empty"),
            ([[1, 2], [1, 603]], "sequence 1 holds token id 603"),
            ([[Int32](repeating: 5, count: 49)], "more than max_position_embeddings 48"),
        ] {
            XCTAssertThrowsError(try model.scores(rows)) { error in
                let e = error as? ClassifierError
                XCTAssertEqual(e?.code, .invalidInput)
                XCTAssertTrue(e?.message.contains(needle) ?? false, "\(error)")
            }
        }
        XCTAssertEqual(try model.scores([[Int32](repeating: 5, count: 48)]).count, 1)
    }
}
