// A rollout worker's heartbeat thread: its own REQ socket to the learner's control address (the main loop's
// REQ is busy with work requests), one heartbeat every period. When the learner no longer knows the worker
// (it was declared dead, or the learner restarted) the thread flags it so the main loop registers again.
import Foundation
import Wire

/// Sends heartbeats until stopped.
final class Heartbeats: @unchecked Sendable {
    private let client: ServiceClient
    private let settings: RolloutSettings
    private let cancel = CancelFlag()
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var started = false
    private var _needsRegister = false

    init(settings: RolloutSettings, codec: FrameCodec) throws {
        self.settings = settings
        client = try ServiceClient(
            service: "learner", addresses: [settings.learner.control], codec: codec,
            resendInterval: duration(seconds: max(1, settings.heartbeatSeconds * 2)))
    }

    /// True once the learner answered a heartbeat with "unknown worker"; reading clears it.
    func takeNeedsRegister() -> Bool {
        lock.withLock {
            defer { _needsRegister = false }
            return _needsRegister
        }
    }

    /// Starts the thread (once); `policyVersion` is read for every heartbeat, and `status`, when it gives
    /// one, is sent after it (throughput and units for `rpp cluster status`).
    func start(policyVersion: @escaping @Sendable () -> UInt64, status: @escaping @Sendable () -> Status? = { nil }) {
        guard
            lock.withLock({
                defer { started = true }
                return !started
            })
        else { return }
        let thread = Thread { [self] in
            defer { done.signal() }
            var sequence: UInt64 = 0
            let period = settings.heartbeatSeconds
            while !cancel.isCancelled {
                sequence += 1
                let h = Heartbeat(
                    workerID: settings.workerID, role: .rollout, sequence: sequence,
                    policyVersion: policyVersion(), unixMillis: Int64(Date().timeIntervalSince1970 * 1000))
                do {
                    _ = try client.call(.heartbeat(h), timeout: duration(seconds: max(period, 0.5) * 2))
                    if let s = status() {
                        _ = try client.call(.status(s), timeout: duration(seconds: max(period, 0.5) * 2))
                    }
                } catch let e as RemoteError where e.code == .notFound {
                    lock.withLock { _needsRegister = true }
                } catch {
                    if !cancel.isCancelled { settings.log("\(settings.workerID): heartbeat failed: \(error)") }
                }
                let until = Date(timeIntervalSinceNow: period)
                while !cancel.isCancelled && Date() < until { Thread.sleep(forTimeInterval: min(0.05, period)) }
            }
        }
        thread.name = "rpp-\(settings.workerID)-heartbeat"
        thread.start()
    }

    /// Stops and joins the thread, then closes the socket.
    func stop() {
        cancel.cancel()
        if lock.withLock({ started }) { done.wait() }
        client.close()
    }
}
