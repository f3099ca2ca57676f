import Foundation
import Wire

/// Rewrites the tensors in a message's protobuf JSON ({"dtype", "shape", "data": base64, "filter"}) as
/// {"dtype", "shape", "values": [...]} so people can read them; the filter is undone first.
enum TensorJSON {
    static func readable(_ json: String, maxValues: Int) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) else { return json }
        let rewritten = rewrite(object, maxValues: maxValues)
        guard let data = try? JSONSerialization.data(withJSONObject: rewritten, options: [.sortedKeys]) else {
            return json
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func rewrite(_ value: Any, maxValues: Int) -> Any {
        if let array = value as? [Any] { return array.map { rewrite($0, maxValues: maxValues) } }
        guard var dict = value as? [String: Any] else { return value }
        if let dtype = dict["dtype"] as? String, let shape = dict["shape"] as? [Any] {
            var data = (dict["data"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            var filter = dict["filter"] as? String ?? "FILTER_NONE"
            if filter == "SPARSE", let dense = dense(sparse: data, dtype: dtype, shape: shape) {
                data = dense
                filter = "FILTER_NONE"
            }
            if let values = values(dtype: dtype, data: data, shuffled: filter == "BYTE_SHUFFLE", max: maxValues) {
                dict["data"] = nil
                dict["filter"] = nil
                dict["values"] = values.shown
                if values.total > values.shown.count { dict["values_not_shown"] = values.total - values.shown.count }
                dict["shape"] = shape
                return dict
            }
        }
        for (k, v) in dict { dict[k] = rewrite(v, maxValues: maxValues) }
        return dict
    }

    /// The dense bytes of a tensor in the sparse form; nil when they are not one.
    static func dense(sparse data: Data, dtype: String, shape: [Any]) -> Data? {
        guard let width = DType(rawValue: dtype.lowercased())?.size else { return nil }
        let dims = shape.compactMap { ($0 as? Int) ?? ($0 as? String).flatMap { Int($0) } }
        guard dims.count == shape.count else { return nil }
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow, product * width <= Sparse.maxDenseBytes else { return nil }
            count = product
        }
        return data.withUnsafeBytes { p in
            Sparse.isWellFormed(p, count: count, width: width)
                ? Data(Sparse.unpack(p, count: count, width: width)) : nil
        }
    }

    static func values(dtype: String, data: Data, shuffled: Bool, max: Int) -> (shown: [Any], total: Int)? {
        let width: Int
        switch dtype {
        case "FLOAT32", "INT32": width = 4
        case "FLOAT64", "INT64": width = 8
        case "UINT8": width = 1
        default: return nil
        }
        let bytes = shuffled ? data.withUnsafeBytes { ByteShuffle.unshuffle($0, width: width) } : [UInt8](data)
        let total = bytes.count / width
        let n = Swift.min(total, Swift.max(0, max))
        let shown: [Any] = bytes.withUnsafeBytes { p in
            (0..<n).map { i -> Any in
                switch dtype {
                // Shortest decimal that round-trips the Float, not the Double widening of it.
                case "FLOAT32": Double("\(p.loadUnaligned(fromByteOffset: i * 4, as: Float.self))") ?? 0
                case "INT32": Int(p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
                case "FLOAT64": p.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
                case "INT64": Int(p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                default: Int(p[i])
                }
            }
        }
        return (shown, total)
    }
}
