// Roles: the learner, rollout, reward and reference roles of an rpp cluster.
//
// `Logic/` holds the pure decision logic as value types (work leases, batch assembly and staleness,
// weight broadcast assembly, reward verification, membership). They take events and the current time
// (milliseconds, a parameter: nothing here reads a clock or touches a socket) and return decisions that
// the thin shells owning sockets and threads execute.

/// Milliseconds on the caller's clock (monotonic or Unix, as long as one role uses one clock).
public typealias Millis = Int64
