// The check of a run's settings against its model and the wire, before a role or a cluster starts work.
import Foundation
import Model
import Roles
import RunKit

/// Checks `config` against the policy architecture `policy`; the error names the setting to change.
func preflight(_ config: RunConfig, policy: ModelConfig, context: String) throws {
    do { try RunPreflight.check(config, policy: policy) } catch {
        throw RoleCommandError("\(context): \(error)")
    }
}

/// Checks `config` against model.init's config.json when it is on this machine (`rpp cluster up` may start
/// the roles elsewhere; each role checks again when it starts).
func preflightIfLocal(_ config: RunConfig, context: String) throws {
    let url = URL(fileURLWithPath: config.model.initPath).appendingPathComponent("config.json")
    guard let data = try? Data(contentsOf: url), let policy = try? ModelConfig(jsonData: data) else { return }
    try preflight(config, policy: policy, context: context)
}
