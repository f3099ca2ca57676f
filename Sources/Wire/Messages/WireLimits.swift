/// The largest values the messages of wire version 1 carry; a decoder refuses anything beyond them, and a run
/// is checked against them before it starts.
public enum WireLimits {
    /// Tokens in one prompt or response.
    public static let maxSequenceTokens = 1 << 20
    /// Samples drawn per prompt in one work unit.
    public static let maxSamplesPerPrompt = 4096
    /// Bytes of one frame's payload (`FrameLimits`' default).
    public static let maxPayloadBytes = FrameLimits().maxPayloadBytes
    /// An upper bound on the bytes one token of an experience costs on the wire (its id, the behaviour and
    /// reference log-probs, with protobuf's framing).
    public static let bytesPerExperienceToken = 16
}
