// The few libm functions the core needs, taken from Foundation (the core's only dependency).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#else
    import Foundation
#endif

@inline(__always) func rlExp(_ x: Double) -> Double { exp(x) }
