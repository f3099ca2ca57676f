// Waiting in a test for something another thread or process brings about, with a deadline, so that a test fails
// instead of hanging when it never comes.
import Foundation

/// Polls `condition` every 10 ms until it holds (true) or `seconds` have passed (false).
public func eventually(within seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while !condition() {
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return true
}
