// Counting the elements of a repeated field in raw protobuf bytes without building the message: a request
// over its item cap is refused before millions of element objects are made.

/// Walks the top-level fields of a protobuf payload.
enum RepeatedFieldCount {
    /// Throws `invariant` when `field` occurs more than `limit` times at the top level of `payload`. Malformed
    /// bytes stop the count early; the protobuf parser reports them afterwards.
    static func check(
        _ payload: UnsafeRawBufferPointer, field: UInt64, atMost limit: Int,
        _ name: String
    ) throws(FrameError) {
        var i = 0
        var count = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < payload.count, shift < 64 {
                let b = payload[i]
                i += 1
                value |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while i < payload.count {
            guard let key = varint() else { return }
            switch key & 7 {
            case 0: guard varint() != nil else { return }
            case 1: i += 8
            case 2:
                guard let n = varint(), n <= UInt64(payload.count - i) else { return }
                i += Int(n)
            case 5: i += 4
            default: return
            }
            if key >> 3 == field {
                count += 1
                if count > limit {
                    throw .invariant(
                        name,
                        "more than \(limit) in one request (the cap per request); send at most "
                            + "\(limit) and split bigger batches")
                }
            }
        }
    }
}
