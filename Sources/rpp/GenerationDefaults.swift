// The sampling settings a model directory's generation_config.json asks for.
import Foundation

/// generation_config.json's sampling fields. As in transformers, a model samples only when it sets
/// `do_sample`; otherwise decoding is greedy.
struct GenerationDefaults: Equatable {
    var doSample = false
    var temperature: Float?
    var topP: Float?
    var topK: Int?

    init() {}

    /// Reads `directory`/generation_config.json; a missing file gives greedy decoding.
    init(directory: URL) throws {
        let url = directory.appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            self.init()
            return
        }
        try self.init(json: data, source: url.path)
    }

    init(json data: Data, source: String) throws {
        guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelCommandError("\(source) is not a JSON object")
        }
        func number(_ key: String) throws -> NSNumber? {
            switch o[key] {
            case nil, is NSNull: return nil
            case let n as NSNumber: return n
            default: throw ModelCommandError("\(source): \(key) must be a number")
            }
        }
        doSample = try number("do_sample")?.boolValue ?? false
        temperature = try number("temperature")?.floatValue
        topP = try number("top_p")?.floatValue
        topK = try number("top_k")?.intValue
    }

    /// The temperature to use when the command line gives none: 0 (greedy) unless the model samples.
    var defaultTemperature: Float { doSample ? temperature ?? 1 : 0 }
    /// The nucleus mass when the command line gives none.
    var defaultTopP: Float { topP ?? 1 }
    /// The top-k when the command line gives none (transformers' 50 when the file does not say).
    var defaultTopK: Int { topK ?? 50 }
}
