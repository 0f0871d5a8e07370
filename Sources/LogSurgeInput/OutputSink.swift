import CLogSurgeSystem
import Foundation

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
    /// Its slot among the files a signal removes (`logsurge_make_temporary`), -1 for none.
    private var cleanupSlot: Int32 = -1
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
    /// file in place, for output that is read while it is written (alerts of a followed log),
    /// and `appending` (with it) after what the file holds.
    public init(path: String, atomically: Bool = true, appending: Bool = false) throws(OutputError) {
        name = path
        if path == "-" {
            descriptor = 1
            ownsDescriptor = false
            temporaryPath = nil
        } else {
            var status = stat()
            let exists = lstat(path, &status) == 0
            // A symbolic link is written through (a report linked into a web root) only when it
            // is the user's own or root's: one that another user planted (in /tmp, a shared log
            // directory) would have a root cron job write any file.
            if exists, status.st_mode & S_IFMT == S_IFLNK, status.st_uid != geteuid(), status.st_uid != 0 {
                throw OutputError(
                    isBrokenPipe: false,
                    description:
                        "cannot write \(path): it is a symbolic link owned by another user (uid \(status.st_uid)); remove it or name the file it points to"
                )
            }
            let replaceable = atomically && !appending && (!exists || status.st_mode & S_IFMT == S_IFREG)
            var temporary: String? = nil
            let fd: Int32
            if replaceable {
                (fd, temporary) = Self.temporaryFile(beside: path, slot: &cleanupSlot)
                if fd >= 0 { Self.keepAttributes(of: exists ? status : nil, on: fd) }
            } else {
                fd = open(path, O_WRONLY | O_CREAT | (appending ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0o644)
            }
            guard fd >= 0 else {
                throw OutputError(isBrokenPipe: false, description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            descriptor = fd
            ownsDescriptor = true
            temporaryPath = temporary
        }
        buffer.reserveCapacity(capacity)
    }

    /// A new file beside `path`, `DIR/.NAME.tmp-logsurge-XXXXXX`, created by `mkstemp`: a name
    /// nobody can plant a link at beforehand (`O_CREAT | O_EXCL`), hidden, and not ending in
    /// the output's own extension (node_exporter reads only `*.prom`).
    /// `slot`: where a signal that ends the run finds it to remove (`logsurge_make_temporary`).
    private static func temporaryFile(beside path: String, slot: inout Int32) -> (Int32, String?) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(directory).\(base).tmp-logsurge-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { logsurge_make_temporary($0.baseAddress!, &slot) }
        guard fd >= 0 else { return (fd, nil) }
        return (fd, template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    /// Gives the temporary file the mode (and, for root, the owner) of the file it replaces; a
    /// new file gets the mode `open(2)` would have given it (0666 less the umask).
    private static func keepAttributes(of replaced: stat?, on fd: Int32) {
        if let replaced {
            // Permissions and the sticky bit; never set-user or set-group ID, which writing
            // the file in place would have cleared too.
            _ = fchmod(fd, replaced.st_mode & 0o1777)
            if geteuid() == 0 { _ = fchown(fd, replaced.st_uid, replaced.st_gid) }
        } else {
            _ = fchmod(fd, 0o666 & ~processUmask)
        }
    }

    /// The process's umask, read without changing it (`umask(2)` can only set it, and
    /// setting it even for a moment would race with files other threads create).
    private static let processUmask: mode_t = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
            let value = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        else { return 0o022 }
        return value
    }()

    deinit {
        if ownsDescriptor, !closed { _ = Glibc.close(descriptor) }
        if let temporaryPath, !renamed { unlink(temporaryPath) }
        logsurge_forget_temporary(cleanupSlot)
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
                throw OutputError(
                    isBrokenPipe: code == EPIPE,
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
        logsurge_forget_temporary(cleanupSlot)
        cleanupSlot = -1
    }
}
