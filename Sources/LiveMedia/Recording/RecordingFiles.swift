#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore

/// Why a recording's files could not be written.
public enum RecordingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ENOSPC`/`EDQUOT`: the data directory's file system is full.
    case diskFull(path: String)
    case write(path: String, errno: Int32)
    case open(path: String, errno: Int32)

    public var description: String {
        switch self {
        case let .diskFull(path): "no space left on the device for \(path)"
        case let .write(path, code): "could not write \(path): \(String(cString: strerror(code)))"
        case let .open(path, code): "could not open \(path): \(String(cString: strerror(code)))"
        }
    }

    static func writing(_ path: String, _ code: Int32) -> RecordingError {
        code == ENOSPC || code == EDQUOT ? .diskFull(path: path) : .write(path: path, errno: code)
    }
}

/// One file the recorder appends to, by plain POSIX calls on the recorder's writer thread (never on an event loop or
/// the cooperative pool). A write that fails part-way is cut back off the file, so the file always ends after a
/// whole write: for a media file, after a whole fragment.
final class AppendFile {
    let path: String
    private let descriptor: Int32
    private(set) var length: Int

    init(path: String) throws(RecordingError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .open(path: path, errno: errno) }
        self.path = path
        self.descriptor = descriptor
        var info = stat()
        length = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
    }

    deinit { _ = close(descriptor) }

    func append(_ bytes: ByteBuffer) throws(RecordingError) {
        let code: Int32? = bytes.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let written = write(descriptor, raw.baseAddress.map { $0 + done }, raw.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += written
            }
            return nil
        }
        if let code {
            // What part of this write reached the file is taken off again (it also frees the blocks it took).
            _ = ftruncate(descriptor, off_t(length))
            throw .writing(path, code)
        }
        length += bytes.readableBytes
    }

    func append(line: Data) throws(RecordingError) {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(line.count + 1)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        try append(buffer)
    }

    /// Flushes to the device, so a power loss keeps what the index names.
    func sync() {
        _ = fsync(descriptor)
    }
}
