import Foundation

extension WeightAnnouncement {
    init(wire w: Rpp_V1_WeightAnnouncement) throws(FrameError) {
        let dtype = try DType(wire: w.dtype, field: "weight_announcement.dtype")
        guard w.elementCount >= 1, w.elementCount <= UInt64(maxTensorElements) else {
            throw .invariant(
                "weight_announcement.element_count", "is \(w.elementCount), expected 1...\(maxTensorElements)")
        }
        guard w.chunkElements >= 1, w.chunkCount >= 1 else {
            throw .invariant("weight_announcement.chunk_count", "chunk_count and chunk_elements must be ≥ 1")
        }
        guard w.chunkElements <= UInt64(maxTensorElements) else {
            throw .invariant(
                "weight_announcement.chunk_elements", "is \(w.chunkElements), expected 1...\(maxTensorElements)")
        }
        let needed = (w.elementCount + w.chunkElements - 1) / w.chunkElements
        guard UInt64(w.chunkCount) == needed else {
            throw .invariant(
                "weight_announcement.chunk_count",
                "is \(w.chunkCount) but \(w.elementCount) elements in chunks of \(w.chunkElements) need \(needed)")
        }
        guard !w.chunkCrc32C.isEmpty else {
            throw .invariant(
                "weight_announcement.chunk_crc32c",
                "is missing: the learner runs an older rpp, which sent a SHA-256 of the whole buffer instead; "
                    + "run the same rpp on every host")
        }
        guard w.chunkCrc32C.count == Int(w.chunkCount) else {
            throw .invariant(
                "weight_announcement.chunk_crc32c",
                "has \(w.chunkCrc32C.count) checksums for \(w.chunkCount) chunks")
        }
        guard w.baseVersion != 0 || w.baseDigest == 0 else {
            throw .invariant("weight_announcement.base_digest", "is set on a full copy (base_version 0)")
        }
        guard w.baseVersion < w.policyVersion || w.baseVersion == 0 else {
            throw .invariant(
                "weight_announcement.base_version",
                "\(w.baseVersion) is not older than version \(w.policyVersion)")
        }
        var layout: [TensorSpan] = []
        for (i, s) in w.layout.enumerated() {
            var elements: UInt64 = 1
            for d in s.shape {
                guard d >= 0, d <= Int64(maxTensorElements) else {
                    throw .invariant("weight_announcement.layout[\(i)].shape", "has dimension \(d)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: UInt64(d))
                elements = overflow ? .max : product
            }
            guard s.offset <= w.elementCount, elements <= w.elementCount - s.offset else {
                throw .invariant("weight_announcement.layout[\(i)]", "\(s.name) runs past the end of the buffer")
            }
            layout.append(TensorSpan(name: s.name, shape: s.shape.map { Int($0) }, offset: Int(s.offset)))
        }
        self.init(
            policyVersion: w.policyVersion, dtype: dtype, elementCount: Int(w.elementCount),
            chunkCount: Int(w.chunkCount), chunkElements: Int(w.chunkElements), chunkChecksums: w.chunkCrc32C,
            layout: layout, baseVersion: w.baseVersion, baseDigest: w.baseDigest)
        receiptEvery = Int(w.receiptEvery)
        if !w.sharedBuffer.isEmpty {
            guard w.baseVersion == 0 else {
                throw .invariant(
                    "weight_announcement.shared_buffer", "is set on a delta (base_version \(w.baseVersion))")
            }
            guard SharedMemoryMapping.isProcessFile(w.sharedBuffer) else {
                throw .invariant(
                    "weight_announcement.shared_buffer", "is not a /proc/PID/fd/N path (\(w.sharedBuffer.prefix(64)))")
            }
            sharedBuffer = w.sharedBuffer
        }
    }

    var wire: Rpp_V1_WeightAnnouncement {
        var w = Rpp_V1_WeightAnnouncement()
        w.policyVersion = policyVersion
        w.dtype = dtype.wire
        w.elementCount = UInt64(elementCount)
        w.chunkCount = UInt32(clamping: chunkCount)
        w.chunkElements = UInt64(chunkElements)
        w.chunkCrc32C = chunkChecksums
        w.baseVersion = baseVersion
        w.baseDigest = baseDigest
        w.receiptEvery = UInt32(clamping: receiptEvery)
        w.sharedBuffer = sharedBuffer
        w.layout = layout.map { s in
            var t = Rpp_V1_TensorSpan()
            t.name = s.name
            t.shape = s.shape.map { Int64($0) }
            t.offset = UInt64(s.offset)
            return t
        }
        return w
    }
}

extension WeightChunk {
    init(wire w: Rpp_V1_WeightChunk) throws(FrameError) {
        guard w.count >= 1 else { throw .invariant("weight_chunk.count", "is 0; a chunk holds at least one element") }
        guard w.hasData else { throw .invariant("weight_chunk.data", "is missing") }
        let data = try DenseTensor(wire: w.data, field: "weight_chunk.data", sparse: true)
        guard data.shape.count == 1, data.shape[0] >= 1 else {
            throw .invariant("weight_chunk.data", "shape \(data.shape), expected a non-empty 1-D slice")
        }
        guard w.offset <= UInt64(maxTensorElements) else {
            throw .invariant("weight_chunk.offset", "is \(w.offset), beyond any buffer")
        }
        self.init(
            policyVersion: w.policyVersion, index: Int(w.index), count: Int(w.count), offset: Int(w.offset),
            data: data, baseVersion: w.baseVersion)
    }

    var wire: Rpp_V1_WeightChunk {
        var w = Rpp_V1_WeightChunk()
        w.policyVersion = policyVersion
        w.index = UInt32(clamping: index)
        w.count = UInt32(clamping: count)
        w.offset = UInt64(offset)
        // A delta (the XOR of two versions) is mostly zero elements.
        w.data = data.wire(sparse: baseVersion != 0)
        w.baseVersion = baseVersion
        return w
    }
}

extension WeightProgress {
    init(wire w: Rpp_V1_WeightProgress) throws(FrameError) {
        guard !w.workerID.isEmpty, w.workerID.utf8.count <= Self.maxWorkerIDBytes else {
            throw .invariant(
                "weight_progress.worker_id", "has \(w.workerID.utf8.count) bytes, expected 1...\(Self.maxWorkerIDBytes)"
            )
        }
        self.init(
            workerID: w.workerID, receiverID: w.receiverID, policyVersion: w.policyVersion, next: Int(w.next))
    }

    var wire: Rpp_V1_WeightProgress {
        var w = Rpp_V1_WeightProgress()
        w.workerID = workerID
        w.receiverID = receiverID
        w.policyVersion = policyVersion
        w.next = UInt32(clamping: next)
        return w
    }
}
