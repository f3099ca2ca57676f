/// The largest values the messages of wire version 1 carry; a decoder refuses anything beyond them, and a run
/// is checked against them before it starts.
public enum WireLimits {
    /// Tokens in one prompt or response.
    public static let maxSequenceTokens = 1 << 20
    /// Samples drawn per prompt in one work unit.
    public static let maxSamplesPerPrompt = 4096
    /// Bytes of one frame's payload (`FrameLimits`' default).
    public static let maxPayloadBytes = FrameLimits().maxPayloadBytes
}
