// Keeps a stream of similar log lines (refused frames from a peer sending garbage) from flooding a log: the
// first `burst` lines of a period are written, the rest only counted, and once the period is over the next
// line (or a `flush`) writes one summary with the count.

/// Decides which lines of one kind to write. A value type: the caller supplies the clock.
public struct LogRateLimiter: Sendable, Equatable {
    /// Lines written as they come in each period.
    public let burst: Int
    /// Length of a period, in milliseconds.
    public let periodMillis: Int64
    private var periodStart: Int64?
    private var written = 0
    private var suppressed = 0

    public init(burst: Int = 10, periodMillis: Int64 = 10_000) {
        precondition(burst >= 1 && periodMillis > 0, "a log rate limit needs a positive burst and period")
        self.burst = burst
        self.periodMillis = periodMillis
    }

    /// Lines counted but not written since the last summary.
    public var pending: Int { suppressed }

    /// The lines to write for `line` happening at `now` (milliseconds on any monotonic clock): nothing, the
    /// line itself, or a summary of the lines held back in the period that ended, then the line.
    public mutating func record(_ line: String, now: Int64) -> [String] {
        var out: [String] = []
        if let start = periodStart, now - start >= periodMillis {
            if let summary = summary(now: now) { out.append(summary) }
            periodStart = nil
        }
        if periodStart == nil {
            periodStart = now
            written = 0
        }
        if written < burst {
            written += 1
            out.append(
                written == burst
                    ? line + " (further lines like this are counted, not written, for "
                        + "\(periodMillis / 1000) s)" : line)
        } else {
            suppressed += 1
        }
        return out
    }

    /// The summary of lines held back, if any, once their period is over (call it now and then, and at the end
    /// with `force`).
    public mutating func flush(now: Int64, force: Bool = false) -> String? {
        guard let start = periodStart, force || now - start >= periodMillis else { return nil }
        let line = summary(now: now)
        periodStart = nil
        return line
    }

    private mutating func summary(now: Int64) -> String? {
        guard suppressed > 0, let start = periodStart else { return nil }
        let seconds = Double(now - start) / 1000
        defer { suppressed = 0 }
        return "\(suppressed) more such line\(suppressed == 1 ? "" : "s") not written in the last "
            + "\(Int(seconds.rounded())) s"
    }
}
