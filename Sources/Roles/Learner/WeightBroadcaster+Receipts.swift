// The workers' receipts on the broadcast socket, and the wait they make a send do (see BroadcastWindow).
import Foundation
import Wire

extension WeightBroadcaster {
    /// Payload bytes a receipt may have on the wire.
    static let maxReceiptBytes = 512

    /// Takes the workers' receipts until the socket closes.
    func takeReceipts() {
        defer { receipts.signal() }
        while true {
            do {
                let message = try socket.receiveSync()
                guard case .weightProgress(let p) = message else {
                    refuse("ignored a \(message.kind.name) on the weights socket (only weight_progress is expected)")
                    continue
                }
                gate.withLock { window.record(p, now: Self.now()) }
                gate.broadcast()
            } catch let error as FrameError {
                refuse("refused a frame on the weights socket: \(error)")
            } catch {
                if socket.socket.isClosed { return }
                refuse("weights socket receive failed: \(error)")
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    private func refuse(_ line: String) {
        let lines = gate.withLock { refused.record("learner: " + line, now: Int64(Self.now() * 1000)) }
        for l in lines { log(l) }
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Waits before the first chunk of a send until the peers that connected since the window last settled have taken
    /// the announcement (see `BroadcastWindow.admitFirst`); returns the seconds waited.
    func newcomers(version: UInt64) -> Double {
        let start = Self.now()
        let (silent, connected, stall) = gate.withLock { () -> (Int, Int, Double) in
            while true {
                let connected = socket.socket.connections
                let a = window.admitFirst(connections: connected, now: Self.now())
                if a.go { return (a.silent, connected, window.stallSeconds) }
                _ = gate.wait(until: Date(timeIntervalSinceNow: 0.005))
            }
        }
        if silent > 0 {
            log(
                "learner: \(silent) of \(connected) peers connected to the weights socket sent no receipt of "
                    + "version \(version)'s announcement in \(stall) s; the broadcast goes on without waiting for them "
                    + "(a worker of an older rpp sends none)")
        }
        return Self.now() - start
    }

    /// Waits until the chunk at `position` of a send of `indices` is within the window of every worker waited for
    /// (see `BroadcastWindow`); returns the seconds waited.
    func room(position: Int, of indices: [Int], window chunks: Int, version: UInt64) -> Double {
        guard let needs = BroadcastWindow.needs(position: position, of: indices, window: chunks) else { return 0 }
        let start = Self.now()
        var stalled: [BroadcastWindow.Peer] = []
        var left: [BroadcastWindow.Peer] = []
        let stall = gate.withLock { () -> Double in
            while true {
                let a = window.admit(needs: needs, connections: socket.socket.connections, now: Self.now())
                stalled += a.stalled
                left += a.left
                if a.go { return window.stallSeconds }
                _ = gate.wait(until: Date(timeIntervalSinceNow: 0.005))
            }
        }
        for p in stalled {
            log(
                "learner: \(p.workerID) sent no weight receipt for \(stall) s (its last: version \(p.policyVersion), "
                    + "next chunk \(p.next)); the broadcast of version \(version) goes on without waiting for it, at "
                    + "chunk \(indices[position]) (it asks again for what it lost)")
        }
        for p in left {
            log(
                "learner: \(p.workerID) is no longer connected to the weights socket (every peer that is has taken "
                    + "version \(version)'s announcement); the broadcast goes on without waiting for it")
        }
        return Self.now() - start
    }
}
