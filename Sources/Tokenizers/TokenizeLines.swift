import Foundation

/// One line of `rpp tokenize`: `{"text": ...}` to `{"ids": [...]}`, or with `decode`, `{"ids": [...]}` to
/// `{"text": ...}`. Errors name the line number.
public struct TokenizeLines: Sendable {
    public let tokenizer: LoadedTokenizer
    public let decode: Bool
    public let skipSpecialTokens: Bool

    public init(tokenizer: LoadedTokenizer, decode: Bool, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.decode = decode
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// The output line for input `line` (number `lineNumber`, from 1), or nil for a blank line.
    public func process(_ line: String, lineNumber: Int) throws -> String? {
        if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { return nil }
        let expected = decode ? "{\"ids\": [ints...]}" : "{\"text\": \"...\"}"
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            throw TokenizerError("line \(lineNumber): not a JSON object (expected \(expected))")
        }
        if decode {
            guard let raw = object["ids"] as? [Any] else {
                throw TokenizerError("line \(lineNumber): no \"ids\" list (expected \(expected))")
            }
            var ids: [Int] = []
            ids.reserveCapacity(raw.count)
            for (i, value) in raw.enumerated() {
                guard let n = value as? NSNumber, !Self.isBool(n), let id = Int(exactly: n.doubleValue) else {
                    throw TokenizerError("line \(lineNumber): ids[\(i)] is not an integer")
                }
                ids.append(id)
            }
            let text = try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
            return "{\"text\":" + Self.jsonString(text) + "}"
        }
        guard let text = object["text"] as? String else {
            throw TokenizerError("line \(lineNumber): no \"text\" string (expected \(expected))")
        }
        let ids: [Int]
        do {
            ids = try tokenizer.encode(text)
        } catch let e as TokenizerError {
            throw TokenizerError("line \(lineNumber): \(e.message)")
        }
        return "{\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]}"
    }

    private static func isBool(_ n: NSNumber) -> Bool {
        String(cString: n.objCType) == "c"
    }

    /// `s` as a JSON string literal: quotes, backslashes and control characters escaped, the rest as is.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
