// swift-tools-version:6.0
// rpp: REINFORCE++ on a cluster of Swift processes.
//
// Module graph (one way):
//   C shims (CNanomsg, CNanomsgShim, CZstd, COpenBLAS, CSupport)
//     -> Wire (frames, protobuf, sockets)      Model (tensors, transformer, BLAS)
//     -> RLCore (pure RL math, no sockets, no model)
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
    ],
    targets: [
        // Native libraries from Debian, found through pkg-config.
        .systemLibrary(name: "CNanomsg", pkgConfig: "nanomsg",
                       providers: [.apt(["libnanomsg-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // nanomsg's protocol and option macros re-exported as constants Swift can import.
        .target(name: "CNanomsgShim", dependencies: ["CNanomsg"]),
        // CRC32C (SSE4.2 when the CPU has it) for frame checksums.
        .target(name: "CSupport", cSettings: [.unsafeFlags(["-O3"])]),

        .target(name: "Wire", dependencies: [
            "CNanomsg", "CNanomsgShim", "CZstd", "CSupport",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Model", dependencies: ["COpenBLAS"]),
        .target(name: "RLCore"),

        .executableTarget(name: "rpp", dependencies: [
            "CSupport",
            "Wire", "Model", "RLCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // libFuzzer target for the frame decoder: built by `make fuzz` with -sanitize=fuzzer -DFUZZING;
        // a normal build makes a runner that replays input files through the same entry point.
        .executableTarget(name: "FuzzFrame", dependencies: ["Wire"]),

        // Tests find Tests/Fixtures through #filePath.
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "RLCoreTests", dependencies: ["RLCore"]),
        .testTarget(name: "CLITests", dependencies: ["rpp"]),
    ]
)
