// swift-tools-version:6.0
// rpp: REINFORCE++ on a cluster of Swift processes.
//
// Module graph (one way):
//   C shims (CNanomsg, CNanomsgShim, CZstd, COpenBLAS, CDNNL, CSupport, CKernels)
//     -> Wire (frames, protobuf, sockets)      Model (tensors, transformer, BLAS)
//     -> RLCore (pure RL math, no sockets, no model)
//     -> RunKit (the run config composing the settings Wire, Model and RLCore own; metrics files)
//     -> Roles (learner, rollout, reward, reference; a task is a protocol here)
//          -> Tasks (the toy, chat arithmetic, datasets, verifiers, reward models)   Tokenizers, ChatTemplate
//     -> Cluster (hosts file, starting, watching and stopping a cluster's processes; needs only Wire and RunKit)
//     -> rpp (the one binary: roles and tools as subcommands)
import PackageDescription

let package = Package(
    name: "rpp",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rpp", targets: ["rpp"]),
        .executable(name: "rpp-fuzz-frame", targets: ["FuzzFrame"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Native libraries from Debian, found through pkg-config.
        .systemLibrary(name: "CNanomsg", pkgConfig: "nanomsg",
                       providers: [.apt(["libnanomsg-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // oneDNN (no pkg-config file in Debian's package): its matmul primitive for bf16 products.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // nanomsg's protocol and option macros re-exported as constants Swift can import.
        .target(name: "CNanomsgShim", dependencies: ["CNanomsg"]),
        // CRC32C for frame checksums (Intel ISA-L's folding kernels from Debian's libisal, with a portable table
        // version to check them against); float32 <-> bfloat16 conversions.
        .target(name: "CSupport", cSettings: [.unsafeFlags(["-O3"])], linkerSettings: [.linkedLibrary("isal")]),
        // bf16 matrix-product kernels: AVX512-BF16 (chosen at run time) and oneDNN's matmul.
        // (A C target does not pass on a system library's link lines, hence the linker settings.)
        .target(name: "CKernels", dependencies: ["CSupport", "CDNNL"], cSettings: [.unsafeFlags(["-O3"])],
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),

        .target(name: "Wire", dependencies: [
            "CNanomsg", "CNanomsgShim", "CZstd", "CSupport",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Model", dependencies: ["COpenBLAS", "CSupport", "CKernels"]),
        .target(name: "RLCore"),
        // Hugging Face tokenizers (tokenizer.json BPE, byte-level and SentencePiece-style) and their configs.
        .target(name: "Tokenizers"),
        // Chat templates: a Jinja interpreter that renders as transformers' apply_chat_template does.
        .target(name: "ChatTemplate"),
        // Run configuration (YAML) over the settings types the libraries own (RLCore's estimators and losses,
        // Model's precision, Wire's compression), metrics sinks (JSONL, TensorBoard event files), the SVG chart.
        .target(
            name: "RunKit",
            dependencies: ["CSupport", "RLCore", "Model", "Wire", .product(name: "Yams", package: "Yams")]),
        // The roles of a cluster (learner, rollout, reward, reference): pure decision logic as value
        // types, and the thin shells that own sockets and threads.
        .target(name: "Roles", dependencies: ["Wire", "Model", "RLCore", "RunKit",
                                               .product(name: "Crypto", package: "swift-crypto")]),
        // Tasks: what a run learns and how it is judged. The arithmetic toy, generated chat arithmetic and
        // datasets users bring (JSONL / JSON lists with OpenRLHF's keys, chat templates), rule-based verifiers,
        // reward models (Bradley-Terry, Hugging Face sequence classifiers) and remote rewards. The learner and the servers see them only through Roles' protocols.
        .target(name: "Tasks", dependencies: ["Model", "Wire", "RunKit", "Roles", "Tokenizers", "ChatTemplate"]),
        // Operating a cluster: the hosts file, the state file, starting processes locally or through ssh or a
        // launcher prefix, status requests, scaling and stopping (`rpp cluster ...`).
        .target(name: "Cluster", dependencies: ["Wire", "RunKit"]),

        .executableTarget(name: "rpp", dependencies: [
            "CSupport",
            "Wire", "Model", "RLCore", "RunKit", "Roles", "Tasks", "Cluster", "Tokenizers", "ChatTemplate",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // libFuzzer target for the frame decoder and the in-place chunk reader: built by `make fuzz` with
        // -sanitize=fuzzer -DFUZZING; a normal build makes a runner that replays input files through the same entry
        // point.
        .executableTarget(name: "FuzzFrame", dependencies: ["Wire"]),

        // The test kit every suite uses: Tests/Fixtures paths, assertClose, loopback ports and addresses, temporary
        // directories, test threads, a tiny HTTP server. XCTest and Foundation only.
        .target(name: "TestKit", path: "Tests/TestKit"),
        .testTarget(name: "TestKitTests", dependencies: ["TestKit"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "TestKit"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "TestKit"]),
        .testTarget(name: "RLCoreTests", dependencies: ["RLCore", "TestKit"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "TestKit"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["ChatTemplate", "TestKit"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks", "Model", "Tokenizers", "TestKit"]),
        .testTarget(name: "RunKitTests", dependencies: ["RunKit", "TestKit"]),
        .testTarget(name: "RolesTests", dependencies: ["Roles", "Tasks", "TestKit"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "TestKit"]),
        .testTarget(name: "CLITests", dependencies: ["rpp", "Model", "TestKit"]),
    ]
)
