// Bounds of numeric command-line options, checked in `validate()`, so no value reaches a trapping
// conversion or an allocation beyond reason.
import ArgumentParser

/// Refuses a duration flag outside (0, one day], so no conversion to milliseconds or nanoseconds can trap.
func checkSeconds(_ value: Double, _ flag: String) throws {
    guard value > 0 && value <= 86_400 else {
        throw ValidationError("\(flag) must be in (0, 86400] seconds (found \(value))")
    }
}

/// Refuses an integer flag outside `range`.
func checkRange(_ value: Int, _ range: ClosedRange<Int>, _ flag: String) throws {
    guard range.contains(value) else {
        throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound) (found \(value))")
    }
}

/// Refuses a number flag outside `range` (NaN included).
func checkRange(_ value: Double, _ range: ClosedRange<Double>, _ flag: String) throws {
    guard range.contains(value) else {
        throw ValidationError("\(flag) must be in [\(range.lowerBound), \(range.upperBound)] (found \(value))")
    }
}
