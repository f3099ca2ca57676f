// The rollout worker's weight subscription: a SUB socket on a thread of its own feeds a WeightAssembler;
// only a complete, SHA-256-verified version is ever exposed, so the sampler never sees a half-received or
// corrupt buffer.
import Foundation
import Wire

/// Receives policy versions in the background; `latest` is the newest verified one.
final class WeightReceiver: @unchecked Sendable {
    private let socket: FrameSocket
    private let lock = NSLock()
    private var assembler = WeightAssembler()
    private let done = DispatchSemaphore(value: 0)
    private let log: @Sendable (String) -> Void
    private let name: String

    init(address: String, codec: FrameCodec, name: String, log: @escaping @Sendable (String) -> Void) throws(TransportError) {
        socket = try FrameSocket(.sub, codec: codec)
        try socket.connect(address)
        self.log = log
        self.name = name
    }

    /// The newest verified version, or nil before the first.
    var latest: PolicyWeights? { lock.withLock { assembler.latest } }

    /// The newest verified version number, or nil.
    var latestVersion: UInt64? { lock.withLock { assembler.latest?.version } }

    /// Forgets every version (the learner restarted from an older checkpoint).
    func reset() { lock.withLock { assembler = WeightAssembler() } }

    /// Starts receiving on a thread of its own.
    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            while true {
                do {
                    let message = try socket.receiveSync(timeout: nil, cancel: nil)
                    lock.withLock {
                        switch message {
                        case .weightAnnouncement(let a):
                            for case .rejected(let e) in assembler.receive(a) { log("\(name): weights refused: \(e)") }
                        case .weightChunk(let c):
                            switch assembler.receive(c) {
                            case .checksumFailed(let v): log("\(name): weights version \(v) failed the SHA-256 check; waiting for a rebroadcast")
                            case .rejected(let e): log("\(name): weight chunk refused: \(e)")
                            default: break
                            }
                        default:
                            log("\(name): ignored a \(message.kind.name) on the weights socket")
                        }
                    }
                } catch let error as FrameError {
                    log("\(name): refused a weights frame: \(error)")
                } catch {
                    if socket.socket.isClosed { return }
                    log("\(name): weights receive failed: \(error)")
                }
            }
        }
        thread.name = "rpp-\(name)-weights"
        thread.start()
    }

    /// Closes the socket and joins the thread.
    func close() {
        socket.close()
        done.wait()
    }
}
