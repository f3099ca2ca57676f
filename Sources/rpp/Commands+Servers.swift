// The reward and reference server commands and the reward-model trainer, with what the two servers
// share: the frame codec from the run config, and serving until SIGTERM / SIGINT with a stats line.
import ArgumentParser
import Dispatch
import Foundation
import Roles
import RunKit
import Wire

/// Top-level subcommands of the servers (reward, reference) and the reward-model trainer.
let serverCommands: [any ParsableCommand.Type] = [RewardCommand.self, ReferenceCommand.self, RMTrainCommand.self]

/// A failure of a server command, printed as one line.
struct ServerCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Options every server takes: the run config and overrides (as every role takes them), and the listen
/// address.
struct ServerOptions: ParsableArguments {
    @OptionGroup var run: RoleConfigOptions
    @Option(help: "Address to listen on (default: the first of the config's cluster address list).")
    var listen: String?
    @Option(help: "Seconds between stats lines.") var statsEvery: Double = 10

    func validate() throws { try checkSeconds(statsEvery, "--stats-every") }

    /// Loads the config; its errors are one line naming the key.
    func load() throws -> RunConfig { try run.load() }
}

/// The cluster's frame codec (key and compression from the config) and a description of the key.
func clusterCodec(_ config: RunConfig) throws -> (codec: FrameCodec, key: String) {
    let codec: FrameCodec
    do { codec = try config.cluster.codec() } catch {
        throw ServerCommandError("cluster.key_file: \(error)")
    }
    return (codec, codec.key.map { "key \($0.fingerprint)" } ?? "no key")
}

/// Binds `address`, prints `banner`, serves until SIGTERM or SIGINT (printing stats every `statsEvery`
/// seconds), then stops the server and prints the final counts.
func serveUntilSignalled(
    name: String, address: String, codec: FrameCodec, resentKinds: Set<MessageKind>,
    handler: @escaping RequestHandler, banner: String, statsEvery: Double
) throws {
    let server: RequestServer
    let status = StatusResponder(role: Role(rawValue: name) ?? .reward, id: address)
    do {
        server = try RequestServer(
            name: name, address: address, codec: codec, limits: .serviceRequest, resentKinds: resentKinds,
            handler: status.wrap(handler),
            log: { line in
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            })
    } catch { throw ServerCommandError("\(name) server cannot listen on \(address): \(error)") }
    server.start()
    print(banner)
    fflush(nil)
    let done = DispatchSemaphore(value: 0)
    let queue = DispatchQueue(label: "rpp.\(name).signals")
    var sources: [any DispatchSourceProtocol] = []
    for sig in [SIGTERM, SIGINT] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
        source.setEventHandler { done.signal() }
        source.resume()
        sources.append(source)
    }
    func statsLine(_ s: ServerStats) -> String {
        "\(name): \(s.requests) requests, \(s.errors) errors, \(s.badFrames) bad frames, \(s.resent) re-sent copies"
    }
    let timer = DispatchSource.makeTimerSource(queue: queue)
    let interval = max(statsEvery, 0.1)
    timer.schedule(deadline: .now() + interval, repeating: interval)
    timer.setEventHandler {
        print(statsLine(server.stats))
        fflush(nil)
    }
    timer.resume()
    done.wait()
    timer.cancel()
    for source in sources { source.cancel() }
    server.stop()
    print("\(name) server stopped; \(statsLine(server.stats))")
    fflush(nil)
}
