import Glibc
import Synchronization

/// Asked while waiting for input: whether to end it now.
public typealias StopCheck = @Sendable () -> Bool

/// Bytes the process's input readers have read so far, all inputs together: for a progress
/// line. Added once per read(2)/pread(2) call (hundreds of KiB), never per line.
public enum ReadProgress {
    private static let total = Atomic<Int64>(0)

    /// Bytes read so far (a range of a plain file may be counted a few bytes more than once
    /// where ranges meet).
    public static var bytes: Int64 { total.load(ordering: .relaxed) }

    static func add(_ count: Int) {
        if count > 0 { total.add(Int64(count), ordering: .relaxed) }
    }
}

/// Thin wrappers over read(2)/open(2) that retry on EINTR and wait on EAGAIN.
enum FileIO {
    /// Reads up to `count` bytes into `buffer`: the number read (0 at end of input) or `-errno`.
    ///
    /// Retries on EINTR; on EAGAIN (a non-blocking descriptor such as an inherited stdin)
    /// waits with poll(2) until data arrives.
    ///
    /// With `stop`, waits for data at most a quarter second at a time and asks `stop` between
    /// waits: when it says so, returns 0 as if the input ended (a pipe that never ends, cut
    /// short by SIGINT or SIGTERM).
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, stop: StopCheck? = nil) -> Int {
        if let stop {
            var waiter = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while poll(&waiter, 1, 250) <= 0 {
                if stop() { return 0 }
            }
        }
        while true {
            let result = Glibc.read(fd, buffer, count)
            if result >= 0 {
                ReadProgress.add(result)
                return result
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                var waiter = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&waiter, 1, -1)
                continue
            }
            return -Int(code)
        }
    }

    /// Opens `path` read-only: the descriptor or `-errno`.
    static func openForReading(_ path: String) -> Int32 {
        while true {
            let fd = SystemPath.open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            let code = errno
            if code == EINTR { continue }
            return -code
        }
    }

    /// The system's message for an errno value.
    static func message(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// Paths as the system knows them: bytes. A file found in a directory whose name is not UTF-8
/// goes through the run as text, its other bytes written `\xHH` (what reports show), and is
/// registered here with its bytes; every `open` and `stat` of an input goes through `with`, so
/// it is read by its bytes like any other file.
public enum SystemPath {
    /// By the text's bytes: two texts Swift holds equal (é composed or not) are two names.
    private static let registered = Mutex<[[UInt8]: [UInt8]]>([:])

    /// Makes `text` stand for the path `bytes`.
    static func register(_ text: String, bytes: [UInt8]) {
        registered.withLock { $0[Array(text.utf8)] = bytes }
    }

    /// Calls `body` with `path` as a C string: the bytes it stands for, if registered.
    public static func with<Result>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        guard let bytes = registered.withLock({ $0.isEmpty ? nil : $0[Array(path.utf8)] }) else { return try path.withCString(body) }
        return try (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// `stat(2)` of `path` (following links).
    public static func stat(_ path: String, _ status: inout Glibc.stat) -> Int32 {
        with(path) { systemStat($0, &status) }
    }

    /// `open(2)` of `path`.
    public static func open(_ path: String, _ flags: Int32) -> Int32 {
        with(path) { Glibc.open($0, flags) }
    }
}

/// `stat(2)`, where a type of the same name is in the way.
private func systemStat(_ path: UnsafePointer<CChar>, _ status: inout stat) -> Int32 { stat(path, &status) }

/// A path as a key, by its bytes. Swift's `String` compares by canonical equivalence: `café`
/// with é composed and with e and a combining accent, two files, would be one key.
public struct PathKey: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(_ path: String) { bytes = Array(path.utf8) }
}
