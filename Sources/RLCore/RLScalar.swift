// The element types of token arrays (Float for the hot path, Double for exact checks) and the B×T shape
// shared by every array of a batch. All arithmetic inside the core is done in Double; sums accumulate in Double.

/// Element type of the RL core's token arrays: `Float` or `Double`.
public protocol RLScalar: BinaryFloatingPoint, Sendable {
    /// The value as a Double (exact).
    var rlDouble: Double { get }
}

extension Float: RLScalar {
    @inline(__always) public var rlDouble: Double { Double(self) }
}

extension Double: RLScalar {
    @inline(__always) public var rlDouble: Double { self }
}

/// The shape of a token batch: `samples` rows (B) of `tokens` positions (T), stored row-major.
public struct TokenShape: Sendable, Equatable, Codable {
    /// B: number of samples (rows).
    public var samples: Int
    /// T: number of response positions per sample (columns).
    public var tokens: Int

    /// Creates a B×T shape.
    public init(samples: Int, tokens: Int) {
        self.samples = samples
        self.tokens = tokens
    }

    /// B·T, the length of every token array of this shape.
    public var count: Int { samples * tokens }

    /// The flat element range of the samples `rows` (e.g. a micro-batch from `BatchConfig.microBatches(of:)`):
    /// `array[shape.elements(ofSamples: r)]` is that micro-batch's B'×T slice.
    public func elements(ofSamples rows: Range<Int>) -> Range<Int> {
        (rows.lowerBound * tokens)..<(rows.upperBound * tokens)
    }

    /// Throws unless the shape is non-negative.
    func check() throws {
        guard samples >= 0, tokens >= 0 else {
            throw RLInputError(field: "shape", "is \(samples)×\(tokens); sizes must not be negative")
        }
        let (_, overflow) = samples.multipliedReportingOverflow(by: tokens)
        guard !overflow else { throw RLInputError(field: "shape", "\(samples)×\(tokens) overflows") }
    }

    /// Throws unless `array` has `count` elements.
    func check<S>(_ array: [S], _ field: String) throws {
        guard array.count == count else {
            throw RLInputError(
                field: field, "has \(array.count) elements but the batch is \(samples)×\(tokens) = \(count)")
        }
    }
}

/// Allocates an array of `count` elements and lets `body` initialise every one of them.
@inline(__always)
func makeArray<S>(_ count: Int, _ body: (UnsafeMutableBufferPointer<S>) -> Void) -> [S] {
    [S](unsafeUninitializedCapacity: count) { buffer, initialized in
        body(buffer)
        initialized = count
    }
}

/// The error for a non-finite result: names the first valid token (row, position) where one of `arrays` is not
/// finite, or says that finite inputs overflowed.
func nonFiniteError<S: RLScalar>(shape: TokenShape, mask: [S], arrays: [(String, [S]?)], result: String) -> RLInputError
{
    for (name, array) in arrays {
        guard let array, array.count == shape.count, shape.tokens > 0 else { continue }
        for i in 0..<shape.count where mask[i] != 0 && !array[i].isFinite {
            return RLInputError(
                field: "\(name)[\(i / shape.tokens)][\(i % shape.tokens)]",
                "is \(array[i]) on a valid token; inputs on valid tokens must be finite")
        }
    }
    return RLInputError(
        field: result, "is not finite although every input on a valid token is: the inputs are too large")
}
