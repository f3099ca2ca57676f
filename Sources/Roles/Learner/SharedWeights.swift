// The learner's shared-memory copy of the latest policy version, for rollout workers on its machine
// (`cluster.weights_socket: auto` with a loopback learner): each version is written once into one memory file, and
// its announcement names the file instead of being followed by a copy of every chunk to every worker. A worker
// copies the chunks from there, checking each against the announcement, so a version being written over by the next
// one is never taken.
import Foundation
import Model
import Wire

/// One shared-memory file holding the latest version written (in the broadcast precision). Used on the broadcaster's
/// queue only.
final class SharedWeights: @unchecked Sendable {
    private var file: SharedMemoryFile?
    /// The version whose bytes the file holds.
    private var version: UInt64?
    private var failed = false
    private let log: @Sendable (String) -> Void

    init(log: @escaping @Sendable (String) -> Void) { self.log = log }

    /// Writes `p`'s bytes (a full copy, whatever `p` is) into the file, one chunk at a time on every core; a file of
    /// another size is replaced by a new one (a worker keeps reading the old one safely until it maps the new).
    /// Where no file can be made, logs why once and leaves the broadcast to the socket.
    func write(_ p: WeightPublication) {
        guard !failed else { return }
        let a = p.announcement
        let total = a.byteCount
        version = nil
        if file?.bytes.count != total {
            file = nil
            do { file = try SharedMemoryFile(name: "rpp-weights", bytes: total) } catch {
                failed = true
                log(
                    "learner: cannot make the shared memory for the rollout workers on this machine (\(error)); "
                        + "the weights go over the socket instead")
                return
            }
        }
        guard let out = file?.bytes.baseAddress else { return }
        let size = a.dtype.size
        p.values.withUnsafeBytes { values in
            let source = values.baseAddress!
            Parallel.forEach(a.chunkCount) { i in
                let (offset, count) = a.span(i)
                (out + offset * size).copyMemory(from: source + offset * size, byteCount: count * size)
            }
        }
        version = a.policyVersion
    }

    /// The file's /proc path when it holds `version`, else nil.
    func path(holding version: UInt64) -> String? {
        guard let file, self.version == version else { return nil }
        return file.path
    }
}
