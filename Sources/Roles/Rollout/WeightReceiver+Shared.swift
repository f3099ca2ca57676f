// A version the learner wrote to shared memory (rollout workers on its machine): the worker maps the learner's file
// and copies the chunks from there into the version in progress, each checked against the announcement, where
// otherwise they would come on the socket. A worker that cannot map it asks for the chunks it lacks, as it does for
// chunks lost on the way, and the learner sends those on the socket.
import Foundation
import Wire

extension WeightReceiver {
    /// Copies the chunks of `job` (an announcement naming a shared-memory file) from the learner's shared memory into the version in progress, one chunk under the
    /// lock at a time (the sampler can take `latest` meanwhile), until the version is complete, a newer one has
    /// started, or a chunk does not match (the learner has written a newer version over it, which is announced
    /// next).
    func copyShared(_ job: WeightAnnouncement) {
        lock.withLock { sharedCopying = true }
        defer { lock.withLock { sharedCopying = false } }
        guard let mapping = map(job) else { return }
        // A buffer for the next version still being made (right after the first version) is waited for, rather than
        // a second one faulted in beside it.
        let deadline = DispatchTime.now().uptimeNanoseconds + 10_000_000_000
        while lock.withLock({ spareComing }), DispatchTime.now().uptimeNanoseconds < deadline {
            Thread.sleep(forTimeInterval: 0.002)
        }
        var mismatched = 0
        for i in 0..<job.chunkCount {
            let stop = lock.withLock { () -> Bool in
                lastFrame = DispatchTime.now().uptimeNanoseconds
                switch assembler.receive(chunk: i, of: job.policyVersion, shared: mapping.bytes) {
                case .completed(let v):
                    if inFlight?.version == v { inFlight!.bytes = job.byteCount }
                    complete(v, from: "from shared memory")
                    return true
                case .checksumFailed: mismatched += 1
                case .rejected(let e):
                    log("\(name): weights in shared memory refused: \(e)")
                    return true
                case .ignored:
                    // A chunk already in (come on the socket) is passed over; another version in progress ends it.
                    return assembler.versionInProgress != job.policyVersion
                default: break
                }
                return false
            }
            if stop { break }
        }
        if mismatched > 0 {
            log(
                "\(name): \(mismatched) chunks of weights version \(job.policyVersion) in shared memory no longer match its "
                    + "announcement (the learner is writing a newer version); waiting for it")
        }
    }

    /// The learner's file mapped (the last mapping when it still names the same file), or nil after logging why
    /// not, once for a path.
    private func map(_ job: WeightAnnouncement) -> SharedMemoryMapping? {
        if let m = sharedMapping, m.path == job.sharedBuffer, m.bytes.count >= job.byteCount, m.isCurrent { return m }
        sharedMapping = nil  // lets go of a file the learner no longer uses
        do {
            let m = try SharedMemoryMapping(path: job.sharedBuffer, minimumBytes: job.byteCount)
            sharedMapping = m
            return m
        } catch {
            if sharedRefused != job.sharedBuffer {
                sharedRefused = job.sharedBuffer
                log(
                    "\(name): cannot map the learner's weights in shared memory (\(error)); asking for them on the "
                        + "socket instead. A worker in another PID namespace or container than its learner cannot "
                        + "open that path: cluster.weights_socket=ipc sends the weights over the Unix socket")
            }
            return nil
        }
    }
}
