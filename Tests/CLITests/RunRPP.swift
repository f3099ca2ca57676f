import Foundation
import XCTest

/// Runs the built `rpp` binary (it sits next to the test bundle) and captures what it prints.
struct RPPRun {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum RPP {
    static var binary: URL {
        Bundle.main.bundleURL.appendingPathComponent("rpp")
    }

    /// Runs `rpp arguments`, with `environment` added to this process's environment.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> RPPRun {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RPPRun(
            status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }
}
