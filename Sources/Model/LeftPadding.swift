// Prompts of different lengths as one batch: each row left-padded to the longest, with the number of
// padding tokens it got, which `forward(...starts:)` and `generate(...starts:)` take so that the padding
// is never attended and positions count from each row's first real token.
import Foundation

/// Rows left-padded to a common width, with each row's padding length.
public struct LeftPadded: Sendable, Equatable {
    /// The padded rows, all `width` tokens long.
    public let rows: [[Int32]]
    /// Padding tokens at the start of each row (its first real token's index).
    public let starts: [Int]
    /// The common width.
    public let width: Int

    /// Pads `prompts` (each non-empty) with `padId` to the longest, or to `width` when that is longer.
    public init(_ prompts: [[Int32]], padId: Int32 = 0, width: Int = 0) {
        let w = max(width, prompts.map(\.count).max() ?? 0)
        rows = prompts.map { [Int32](repeating: padId, count: w - $0.count) + $0 }
        starts = prompts.map { w - $0.count }
        self.width = w
    }
}
