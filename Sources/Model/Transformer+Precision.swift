// Mixed precision. A model computing in bf16 keeps a bfloat16 copy of every parameter: the matrix products
// read their matrices from it (bf16 operands, float32 accumulation, see Kernels+BF16), the norms and biases
// their bf16 values widened to float32; activations, softmax and reductions stay float32, and so do attention's
// products except where the CPU's AVX512-BF16 outruns float32 (`MatmulKernel.attentionInBF16`). A
// trained model keeps float32 master weights, gradients and AdamW moments and refreshes the copy after
// every change; an inference role (rollout worker, reference) can give its float32 parameters back and
// hold only the copy, half the memory.
import CSupport
import Foundation

/// The precision of a model's matrix products.
public enum ModelPrecision: String, Sendable, CaseIterable {
    /// Float32 everywhere.
    case fp32
    /// bfloat16 operands for the matrix products, float32 accumulation and everything else.
    case bf16
}

extension Transformer {
    /// Switches the products to `precision`. With `.bf16` and `keepFloat32: false` the float32 parameters
    /// are given back to the system: the model then only runs forward passes and takes new weights through
    /// `setWeights`. Call it after the weights are loaded.
    public func usePrecision(_ precision: ModelPrecision, keepFloat32: Bool = true) {
        self.precision = precision
        switch precision {
        case .fp32:
            if let low = lowWeights, !holdsFloat32 {
                rpp_bf16_to_f32(low.pointer, params.pointer, layout.totalCount)
                holdsFloat32 = true
            }
            lowWeights = nil
            vectorBuffer = nil
        case .bf16:
            if lowWeights == nil {
                lowWeights = BFloat16Buffer(count: layout.totalCount)
                vectorBuffer = FloatBuffer(count: layout.totalCount, lazy: true)
                if holdsFloat32 { weightsChanged() }
            }
            if !keepFloat32 && holdsFloat32 {
                params.release()
                grads.release()
                holdsFloat32 = false
            }
        }
    }

    /// Refreshes the bf16 copy after the float32 parameters changed (loads, optimizer steps); a no-op in fp32.
    /// `bf16CopyCurrent`: the changer already rounded every parameter into the copy (AdamW's update does).
    public func weightsChanged(bf16CopyCurrent: Bool = false) {
        guard let low = lowWeights, holdsFloat32 else { return }
        if !bf16CopyCurrent { convertToBF16(params.pointer, low.pointer, count: layout.totalCount) }
        widenVectors()
    }

    /// Sets every parameter from float32 values in layout order (a new policy version).
    public func setWeights(float32 values: UnsafeBufferPointer<Float>) throws {
        guard values.count == layout.totalCount else {
            throw ModelError.invalidInput("weights have \(values.count) values, the model \(layout.totalCount)")
        }
        if holdsFloat32 {
            params.pointer.update(from: values.baseAddress!, count: values.count)
            weightsChanged()
        } else if let low = lowWeights {
            convertToBF16(values.baseAddress!, low.pointer, count: values.count)
            widenVectors()
        }
    }

    /// Sets every parameter from bfloat16 values in layout order. A float32 model holds their exact widening.
    public func setWeights(bfloat16 values: UnsafeBufferPointer<UInt16>) throws {
        guard values.count == layout.totalCount else {
            throw ModelError.invalidInput("weights have \(values.count) values, the model \(layout.totalCount)")
        }
        if let low = lowWeights {
            low.pointer.update(from: values.baseAddress!, count: values.count)
            if holdsFloat32 { rpp_bf16_to_f32(low.pointer, params.pointer, values.count) }
            widenVectors()
        } else {
            let src = values.baseAddress!
            let dst = params.pointer
            Parallel.ranges(values.count, minChunk: 1 << 16) { r in
                rpp_bf16_to_f32(src + r.lowerBound, dst + r.lowerBound, r.count)
            }
        }
    }

    /// Copies the widened bf16 values of every tensor that is not a product's matrix into `vectorBuffer`.
    private func widenVectors() {
        guard let low = lowWeights, let vectors = vectorBuffer else { return }
        let matrices = matrixOffsets
        for s in layout.specs where !matrices.contains(s.offset) {
            rpp_bf16_to_f32(low.pointer + s.offset, vectors.pointer + s.offset, s.count)
        }
    }

    /// Offsets of the tensors the products read as matrices: projections, embedding and LM head.
    var matrixOffsets: Set<Int> {
        var set: Set<Int> = [layout.embed, layout.lmHead]
        for o in layout.layers { set.formUnion([o.wq, o.wk, o.wv, o.wo, o.wGate, o.wUp, o.wDown]) }
        return set
    }

    /// The matrix at `offset` as the products read it.
    @inline(__always) func matrix(_ offset: Int) -> MatrixOperand {
        if let low = lowWeights { return .bfloat16(low.pointer + offset) }
        return .float32(params.pointer + offset)
    }

    /// Base of the vectors (norms, biases, score) as the kernels read them.
    @inline(__always) var vectors: UnsafeMutablePointer<Float> { vectorBuffer?.pointer ?? params.pointer }
}

extension ModelPrecision {
    /// How this precision's matrix products run on this CPU, one line (printed when a role starts).
    public var kernelDescription: String {
        switch self {
        case .fp32:
            return "fp32, OpenBLAS sgemm (core \(OpenBLASTuning.coreName)), forward products of <= "
                + "\(MatmulKernel.streamedFloat32MaxRows) rows on the streaming kernel"
        case .bf16: return "bf16, " + MatmulKernel.summary()
        }
    }
}
