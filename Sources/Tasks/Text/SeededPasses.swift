import Foundation

/// The endless sequence of seeded passes over `count` items: position `k` is item `order(pass)[k % count]` with
/// `pass = k / count`, and every pass has its own seeded order. It keeps the order of the pass it computed last,
/// so the prompts of consecutive iterations cost one shuffle per pass, not one per iteration.
final class SeededPasses: @unchecked Sendable {
    let count: Int
    private let lock = NSLock()
    private var cached: (seed: UInt64, pass: Int, order: [Int])?
    /// How many orders were computed (for tests).
    private(set) var shuffles = 0

    init(count: Int) { self.count = count }

    /// The item at position `k` of the sequence for `seed`.
    func item(at k: Int, seed: UInt64) -> Int {
        let pass = k / count
        return order(pass: pass, seed: seed)[k % count]
    }

    /// The order of pass `pass` (0-based).
    func order(pass: Int, seed: UInt64) -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        if let c = cached, c.seed == seed, c.pass == pass { return c.order }
        var o = SeededOrder(seed: seed ^ (0xDA7A_5E7 &* UInt64(pass + 1)))
        let order = o.shuffle(Array(0..<count))
        cached = (seed, pass, order)
        shuffles += 1
        return order
    }
}
