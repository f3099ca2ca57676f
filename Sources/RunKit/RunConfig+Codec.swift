import Wire

extension RunConfig.ClusterSection {
    /// The frame codec of every socket of the run: the compression policy, the cluster key if any
    /// (`cluster.key_file`), and encryption (`cluster.encrypt`).
    public func codec() throws -> FrameCodec {
        let key = try keyFile.map { path throws -> ClusterKey in try ClusterKey(file: path) }
        return FrameCodec(key: key, encrypt: key != nil && encrypt, compression: compression)
    }
}
