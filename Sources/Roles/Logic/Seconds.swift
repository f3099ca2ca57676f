// Durations given in seconds (config values, settings) turned into the integer milliseconds that leases,
// timers and wire fields use, without a trapping conversion for any Double.
import Foundation

/// A duration in seconds as whole milliseconds: at least 1, at most `UInt32.max` (49.7 days); NaN counts as
/// the shortest. Config validation keeps `cluster.*_seconds` within one day, so the cap only guards settings
/// built in code.
public func leaseMillis(seconds: Double) -> UInt32 {
    let ms = (seconds * 1000).rounded(.up)
    guard ms >= 1 else { return 1 }
    return ms >= Double(UInt32.max) ? UInt32.max : UInt32(ms)
}

/// `leaseMillis(seconds:)` as a `Millis`.
public func millis(seconds: Double) -> Millis { Millis(leaseMillis(seconds: seconds)) }

/// `leaseMillis(seconds:)` as a `Duration`.
public func duration(seconds: Double) -> Duration { .milliseconds(Int64(leaseMillis(seconds: seconds))) }
