// Plain-words reasons for failed file operations, so no error message shows raw NSError text.
import Foundation

/// Why a file operation failed, in the system's words ("No space left on device", "Read-only file system"):
/// the POSIX error under a Foundation error when there is one, else the meaning of its Cocoa code. Never the
/// raw NSError text.
public func ioReason(_ error: Error) -> String {
    let ns = error as NSError
    if ns.domain == NSPOSIXErrorDomain { return posixText(Int32(truncatingIfNeeded: ns.code)) }
    if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain {
        return posixText(Int32(truncatingIfNeeded: under.code))
    }
    guard ns.domain == NSCocoaErrorDomain else {
        // A Swift error (its domain is its type name) says itself what went wrong.
        return ns.domain.contains(".") ? "\(error)" : "\(ns.domain) error \(ns.code)"
    }
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileNoSuchFile, .fileReadNoSuchFile: return posixText(ENOENT)
    case .fileReadNoPermission, .fileWriteNoPermission: return posixText(EACCES)
    case .fileWriteOutOfSpace: return posixText(ENOSPC)
    case .fileWriteVolumeReadOnly: return posixText(EROFS)
    case .fileWriteFileExists: return posixText(EEXIST)
    case .fileReadTooLarge: return posixText(EFBIG)
    case .fileReadInvalidFileName, .fileWriteInvalidFileName: return "invalid file name"
    case .fileReadCorruptFile: return "the file is corrupt"
    case .fileReadInapplicableStringEncoding, .fileWriteInapplicableStringEncoding: return "the text is not UTF-8"
    default: return "file error \(ns.code)"
    }
}

/// `strerror` of a POSIX error number.
public func posixText(_ code: Int32) -> String { String(cString: strerror(code)) }
