// Conversions of the int, float and title filters, with Python's rules.
import Foundation

extension Interpreter {
    func toInt(_ v: Value, base: Int) -> Value? {
        switch v {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return nil }
            return .int(Int(d))
        case .string(let s):
            var t = pythonStrip(s, nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
            var sign = 1
            if t.hasPrefix("-") {
                sign = -1
                t.removeFirst()
            } else if t.hasPrefix("+") {
                t.removeFirst()
            }
            var b = base
            for (p, r) in [("0x", 16), ("0o", 8), ("0b", 2)]
            where t.lowercased().hasPrefix(p) && (base == r || base == 0) {
                t.removeFirst(2)
                b = r
            }
            if b == 0 { b = 10 }
            if let i = Int(t, radix: b) { return .int(sign * i) }
            if let d = toFloat(v), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
            return nil
        default: return nil
        }
    }

    func toFloat(_ v: Value) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return d
        case .string(let s):
            let t = pythonStrip(s, nil, left: true, right: true).replacingOccurrences(of: "_", with: "").lowercased()
            switch t {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default:
                guard !t.isEmpty, t.allSatisfy({ "0123456789.e+-".contains($0) }) else { return nil }
                return Double(t)
            }
        default: return nil
        }
    }
}

/// Jinja2's title filter: each word (split at whitespace, - ( { [ <) gets a capital and lower-case rest.
func jinjaTitle(_ s: String) -> String {
    let separators: Set<Unicode.Scalar> = ["-", "(", "{", "[", "<"]
    var out = ""
    var atStart = true
    for u in s.unicodeScalars {
        let isSep = separators.contains(u) || isPythonSpace(u)
        if isSep {
            out.unicodeScalars.append(u)
            atStart = true
        } else {
            out += atStart ? String(u).uppercased() : String(u).lowercased()
            atStart = false
        }
    }
    return out
}
