#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an output could not be written.
public struct OutputError: Error, Sendable, CustomStringConvertible {
    /// The reader of a pipe went away (`logsurge … | head`): the program should end quietly.
    public var isBrokenPipe: Bool
    public var description: String
}

/// A buffered writer to standard output, standard error or a file.
///
/// Output files are opened (and so checked) before any input is read. A new or regular file is
/// written through a temporary name that is renamed into place on `close()`, so a reader never
/// sees half a file; anything else (a device such as `/dev/null`, a FIFO, `/dev/fd/N`, a
/// symbolic link) is opened and written where it is, never replaced.
public final class OutputSink {
    public let name: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let temporaryPath: String?
    private var buffer: [UInt8] = []
    private var renamed = false
    private var closed = false
    private let capacity = 1 << 16

    /// Standard output.
    public static func standardOutput() -> OutputSink { OutputSink(name: "-", descriptor: 1) }
    /// Standard error.
    public static func standardError() -> OutputSink { OutputSink(name: "standard error", descriptor: 2) }

    private init(name: String, descriptor: Int32) {
        self.name = name
        self.descriptor = descriptor
        ownsDescriptor = false
        temporaryPath = nil
        buffer.reserveCapacity(capacity)
    }

    /// Opens `path` for writing (`-` is standard output); `atomically: false` writes a regular
    /// file in place, for output that is read while it is written (alerts of a followed log).
    public init(path: String, atomically: Bool = true) throws(OutputError) {
        name = path
        if path == "-" {
            descriptor = 1
            ownsDescriptor = false
            temporaryPath = nil
        } else {
            var status = stat()
            let exists = lstat(path, &status) == 0
            let replaceable = atomically && (!exists || status.st_mode & S_IFMT == S_IFREG)
            let temporary = replaceable ? path + ".tmp-logsurge-\(getpid())" : nil
            let fd = open(temporary ?? path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw OutputError(isBrokenPipe: false, description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            descriptor = fd
            ownsDescriptor = true
            temporaryPath = temporary
        }
        buffer.reserveCapacity(capacity)
    }

    deinit {
        if ownsDescriptor, !closed { _ = Glibc.close(descriptor) }
        if let temporaryPath, !renamed { unlink(temporaryPath) }
    }

    public var isTerminal: Bool { isatty(descriptor) == 1 }

    /// Whether `close()` renames a temporary file into place (a new or regular file), rather
    /// than having written where it points (standard output, a device, a FIFO, a symbolic link).
    public var replacesFile: Bool { temporaryPath != nil }

    /// The name errors give: "standard output" for `-`.
    private var displayName: String { name == "-" ? "standard output" : name }

    public func write(_ text: String) throws(OutputError) {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= capacity { try flush() }
    }

    public func write(bytes: some Sequence<UInt8>) throws(OutputError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { try flush() }
    }

    public func flush() throws(OutputError) {
        var written = 0
        while written < buffer.count {
            let result = buffer.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let code = errno
                buffer.removeAll(keepingCapacity: true)
                throw OutputError(isBrokenPipe: code == EPIPE,
                                  description: "cannot write \(displayName): \(String(cString: strerror(code)))")
            }
            written += result
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, closes a descriptor this sink opened, and moves a replaced file into place.
    public func close() throws(OutputError) {
        try flush()
        guard ownsDescriptor, !closed else { return }
        closed = true
        defer { _ = Glibc.close(descriptor) }
        guard let temporaryPath else { return }
        if fsync(descriptor) != 0 && errno != EINVAL {
            throw OutputError(isBrokenPipe: false, description: "cannot write \(name): \(String(cString: strerror(errno)))")
        }
        if rename(temporaryPath, name) != 0 {
            throw OutputError(isBrokenPipe: false, description: "cannot write \(name): \(String(cString: strerror(errno)))")
        }
        renamed = true
    }
}
