import Foundation

/// A thread of its own that runs blocking jobs in order, so that blocking nanomsg calls never occupy
/// Swift's cooperative thread pool. Async code hands it work through `run`.
final class BlockingThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopped = false

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Queues a job; false once the thread is stopping.
    func submit(_ job: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Lets queued jobs finish, then ends the thread.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    /// Runs `job` on this thread and awaits its result. Task cancellation sets the job's `CancelFlag`.
    func run<T: Sendable>(_ job: @escaping @Sendable (CancelFlag) throws -> T) async throws -> T {
        let flag = CancelFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let accepted = submit {
                    continuation.resume(with: Result { try job(flag) })
                }
                if !accepted {
                    continuation.resume(
                        throwing: TransportError(
                            .closed, operation: "queue socket operation",
                            text: "the socket is closed"))
                }
            }
        } onCancel: {
            flag.cancel()
        }
    }
}
