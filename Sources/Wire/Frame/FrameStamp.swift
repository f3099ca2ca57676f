import Foundation

/// What makes a signed frame unique and dated: the sender's clock when it sealed the frame and a random
/// 96-bit nonce (also the AES-GCM nonce of an encrypted frame). Covered by the frame's tag, so a peer without
/// the key can neither change it nor make a new one.
public struct FrameStamp: Sendable, Hashable {
    /// Bytes on the wire: 8 of time, 12 of nonce.
    public static let size = 20

    /// The nonce, as two integers (bytes 0..<8 and 8..<12, little-endian).
    public struct Nonce: Sendable, Hashable {
        public var high: UInt64
        public var low: UInt32
        public init(high: UInt64, low: UInt32) {
            self.high = high
            self.low = low
        }

        /// A fresh random nonce.
        public static func random() -> Nonce {
            var g = SystemRandomNumberGenerator()
            return Nonce(high: g.next(), low: g.next())
        }

        /// The 12 bytes, as written on the wire.
        public var bytes: [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: high >> (8 * UInt64($0))) }
                + (0..<4).map { UInt8(truncatingIfNeeded: low >> (8 * UInt32($0))) }
        }
    }

    /// Milliseconds since 1970 on the sender's clock.
    public var unixMillis: Int64
    public var nonce: Nonce

    public init(unixMillis: Int64, nonce: Nonce) {
        self.unixMillis = unixMillis
        self.nonce = nonce
    }

    /// A stamp for a frame sealed now.
    public static func now() -> FrameStamp { FrameStamp(unixMillis: currentUnixMillis(), nonce: .random()) }

    /// This machine's wall clock in milliseconds since 1970.
    public static func currentUnixMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    init(reading p: UnsafeRawBufferPointer) {
        unixMillis = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        nonce = Nonce(
            high: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            low: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
    }

    func write(to p: UnsafeMutableRawBufferPointer) {
        p.storeBytes(of: unixMillis.littleEndian, toByteOffset: 0, as: Int64.self)
        p.storeBytes(of: nonce.high.littleEndian, toByteOffset: 8, as: UInt64.self)
        p.storeBytes(of: nonce.low.littleEndian, toByteOffset: 16, as: UInt32.self)
    }
}
