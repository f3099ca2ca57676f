// Threads a test starts for work that blocks (socket loops, a learner's run, clients of a server): each runs one
// closure on a thread of its own, never on Swift's cooperative pool, and the test waits for all of them with a
// deadline, so a hung thread fails the test instead of hanging it.
import Foundation

/// A group of threads, each running one closure; `wait(seconds:)` joins them.
public final class TestThreads: @unchecked Sendable {
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var names: [String] = []
    private var running: Set<String> = []

    public init() {}

    /// Starts `body` on a new thread named `name` (in failure messages) and returns at once.
    public func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        lock.lock()
        let key = "\(name)#\(names.count)"
        names.append(key)
        running.insert(key)
        lock.unlock()
        group.enter()
        let thread = Thread { [self] in
            body()
            lock.lock()
            running.remove(key)
            lock.unlock()
            group.leave()
        }
        thread.name = name
        thread.start()
    }

    /// Starts `count` threads named `name-0`, `name-1`, ..., thread i running `body(i)`.
    public func start(_ count: Int, named name: String, _ body: @escaping @Sendable (Int) -> Void) {
        for i in 0..<count { start("\(name)-\(i)") { body(i) } }
    }

    /// Waits until every thread started so far has returned, at most `seconds`; true when they all did.
    @discardableResult
    public func wait(seconds: Double) -> Bool { group.wait(timeout: .now() + seconds) == .success }

    /// The names of the threads still running (for a failure message after `wait` returned false).
    public var stillRunning: [String] {
        lock.lock()
        defer { lock.unlock() }
        return names.filter(running.contains).map { String($0.prefix { $0 != "#" }) }
    }
}
