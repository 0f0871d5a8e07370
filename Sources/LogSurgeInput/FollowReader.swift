import Glibc

/// Reads named files as they grow, like `tail -F`, until told to stop: `--follow`.
///
/// Each file is read from its start, then polled. It survives what log rotation does:
/// - rename (`access.log` → `access.log.1`, a new `access.log`): the new file is read from its
///   start, and the old one, through the descriptor still open, until it has not grown for
///   `rotateWait` seconds (nginx and Apache write to it until they reopen their logs);
/// - copytruncate: the file shrinks below what was read, or its first bytes are no longer
///   those read (it was emptied and grew past the old size between two looks): read again
///   from its start;
/// - a file that disappears and comes back (or does not exist yet), or is for a while not a
///   regular file (a directory during a deploy): waited for. Nothing but a regular file is
///   opened, so a FIFO put at the path cannot block the reader.
///
/// Lines of several files are never mixed: a file's bytes after its last newline wait (in a
/// carry of at most `maxLineLength` bytes) until their line is complete, or until the file is
/// rotated away or the reader stops, when the rest is a line of its own. A longer line is
/// counted as too long and skipped, so memory stays bounded whatever a file holds. A gzip
/// file (by its first bytes) is read once to its end, not followed: archives do not grow.
///
/// What rotation can hide is hidden from `tail -F` too: lines written to a copytruncated file
/// after the last poll and before the truncation are only in the copy.
public struct FollowReader: Sendable {
    /// The files to follow, by path.
    public let paths: [String]
    /// Chunking and gzip settings, as for any input, and `followPollInterval`.
    public var reader: InputReader

    public init(paths: [String], reader: InputReader) {
        self.paths = paths
        self.reader = reader
    }

    /// One followed path: the file open under it, and where its reading stands.
    private struct Followed {
        let path: String
        var descriptor: Int32 = -1
        var device: UInt64 = 0
        var inode: UInt64 = 0
        /// Bytes read from the open file since its start (or its last truncation).
        var offset: Int64 = 0
        /// The bytes after the last newline read, waiting for the rest of their line.
        var carry: [UInt8] = []
        /// Skipping a line that grew past the longest kept, up to its newline.
        var skippingLongLine = false
        /// Archives are read once, and a file that failed is not read again (it would be
        /// counted twice): their path is not looked at again.
        var done = false
        /// Whether anything was ever found at the path, and whether a regular file was.
        var found = false
        var foundRegular = false
        /// The file's first bytes as read (up to `headLength`): a file emptied and regrown
        /// past what was read no longer starts with them.
        var head: [UInt8] = []
        /// When a rotated-away file last grew.
        var lastGrowth: Double = 0
    }

    /// First bytes compared to tell a file rewritten in place from one that grew.
    static let headLength = 128
    /// Bytes read of each file once the reader is told to stop.
    static let finalDrain: Int64 = 64 << 20

    /// Follows until `shouldStop` says so (asked at least every `reader.followPollInterval`), then reads
    /// what is left, ends every pending line and returns. `emit` gets whole-line chunks.
    public func read(shouldStop: () -> Bool, emit: (LineChunk) throws -> Void) rethrows -> (InputStats, InputError?) {
        var chunker = LineChunker(targetSize: reader.targetChunkSize, maxLineLength: reader.maxLineLength)
        chunker.pool = reader.pool
        var stats = InputStats()
        var firstError: InputError?
        var files = paths.map { Followed(path: $0) }
        /// Files rotated away, still read until they have been quiet for `rotateWait` seconds.
        var retired: [Followed] = []
        /// The files open under the other paths than the one being looked at ("device:inode").
        var othersOpen = Set<String>()
        func noteOthers(but index: Int) {
            othersOpen = Set(
                files.indices.filter { $0 != index && files[$0].descriptor >= 0 }.map { "\(files[$0].device):\(files[$0].inode)" })
        }
        let readSize = reader.readSize
        let rotateWait = max(0, reader.followRotateWait)

        try withUnsafeTemporaryAllocation(byteCount: readSize, alignment: 16) { buffer in
            /// Reads what `file` holds now, in pieces, until its end, a stop (asked between
            /// pieces: a file growing faster than it is read, or a sparse one, cannot hold up
            /// SIGTERM) or `budget` bytes; whether anything was read.
            func drain(_ file: inout Followed, budget: Int64 = .max) throws -> Bool {
                guard file.descriptor >= 0 else { return false }
                var progressed = false
                var taken: Int64 = 0
                var nextStopCheck: Int64 = 16 << 20
                while true {
                    if taken >= budget { return progressed }
                    if taken >= nextStopCheck {
                        if shouldStop() { return progressed }
                        nextStopCheck += 16 << 20
                    }
                    let count = pread(file.descriptor, buffer.baseAddress!, buffer.count, off_t(file.offset))
                    ReadProgress.add(count)
                    if count < 0 {
                        if errno == EINTR { continue }
                        let error = InputError(path: file.path, offset: file.offset, message: "read error: \(FileIO.message(errno))")
                        firstError = firstError ?? error
                        try endLine(of: &file)
                        close(file.descriptor)
                        file.descriptor = -1
                        file.done = true
                        return progressed
                    }
                    if count == 0 { return progressed }
                    progressed = true
                    taken += Int64(count)
                    file.offset += Int64(count)
                    stats.bytesRead += Int64(count)
                    try take(UnsafeRawBufferPointer(rebasing: buffer[..<count]), from: &file)
                }
            }

            /// Hands on the complete lines of `bytes`, keeping the rest in the file's carry.
            func take(_ bytes: UnsafeRawBufferPointer, from file: inout Followed) throws {
                var start = 0
                if file.skippingLongLine {
                    guard let newline = bytes.firstIndex(of: 0x0A) else { return }
                    file.skippingLongLine = false
                    start = newline + 1
                }
                let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
                guard let last = rest.lastIndex(of: 0x0A) else {
                    file.carry.append(contentsOf: rest)
                    try dropCarryIfTooLong(&file)
                    return
                }
                if !file.carry.isEmpty {
                    try file.carry.withUnsafeBytes { try chunker.append($0, emit: emit) }
                    file.carry.removeAll(keepingCapacity: true)
                }
                try chunker.append(UnsafeRawBufferPointer(rebasing: rest[..<(last + 1)]), emit: emit)
                file.carry.append(contentsOf: rest[(last + 1)...])
                try dropCarryIfTooLong(&file)
            }

            /// A carry longer than any kept line is a line too long: counted, and skipped to its end.
            func dropCarryIfTooLong(_ file: inout Followed) throws {
                guard file.carry.count > reader.maxLineLength else { return }
                file.carry.removeAll(keepingCapacity: false)
                file.skippingLongLine = true
                // In order: the lines before it first.
                try chunker.flushCompleteLines(emit: emit)
                try emit(LineChunk(bytes: [], overlongLines: 1))
            }

            /// The file ends here (rotated, truncated, stopped): its partial line is a line.
            func endLine(of file: inout Followed) throws {
                file.skippingLongLine = false
                guard !file.carry.isEmpty else { return }
                file.carry.append(0x0A)
                try file.carry.withUnsafeBytes { try chunker.append($0, emit: emit) }
                file.carry.removeAll(keepingCapacity: true)
            }

            /// Opens whatever is at `file.path` now, from its start, when it is a regular file (looked
            /// at first: opening a FIFO would wait for a writer); a gzip archive is read whole.
            func open(_ file: inout Followed) throws {
                var before = stat()
                guard SystemPath.stat(file.path, &before) == 0 else { return }  // not there (yet): looked for again later
                file.found = true
                // A directory, a FIFO or a device is not a log file that grows: looked at again later.
                guard before.st_mode & S_IFMT == S_IFREG else { return }
                let descriptor = SystemPath.open(file.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
                guard descriptor >= 0 else { return }
                var status = stat()
                guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
                    close(descriptor)
                    return
                }
                file.foundRegular = true
                // The file rotated away from another followed path (access.log now named
                // access.log.1, both followed): read on where that path left it, not again.
                if let index = retired.firstIndex(where: { $0.device == UInt64(status.st_dev) && $0.inode == UInt64(status.st_ino) }) {
                    close(descriptor)
                    let adopted = retired.remove(at: index)
                    file.descriptor = adopted.descriptor
                    file.device = adopted.device
                    file.inode = adopted.inode
                    file.offset = adopted.offset
                    file.carry = adopted.carry
                    file.skippingLongLine = adopted.skippingLongLine
                    file.head = adopted.head
                    return
                }
                // The same file as another path followed now (a hard link, or a rename not seen
                // yet there): left to that path until it is a file of its own.
                if othersOpen.contains("\(status.st_dev):\(status.st_ino)") {
                    close(descriptor)
                    return
                }
                var magic: (UInt8, UInt8) = (0, 0)
                if withUnsafeMutableBytes(of: &magic, { pread(descriptor, $0.baseAddress!, 2, 0) }) == 2, magic == (0x1F, 0x8B) {
                    try chunker.flushCompleteLines(emit: emit)
                    let (archive, error) = try reader.read(fileDescriptor: descriptor, name: file.path, emit: emit)
                    close(descriptor)
                    stats.bytesRead += archive.bytesRead
                    stats.decompressedBytes += archive.decompressedBytes - archive.bytesRead
                    stats.gzipMembers += archive.gzipMembers
                    if let error { firstError = firstError ?? error }
                    file.done = true
                    return
                }
                file.descriptor = descriptor
                file.device = UInt64(status.st_dev)
                file.inode = UInt64(status.st_ino)
                file.offset = 0
                file.head = []
            }

            /// Whether the open file no longer is what was read: shorter than what was read, or
            /// its first bytes changed (emptied, then written past the old size since the last look).
            func rewritten(_ file: Followed, size: Int64) -> Bool {
                if size < file.offset { return true }
                guard !file.head.isEmpty else { return false }
                var now = [UInt8](repeating: 0, count: file.head.count)
                let count = now.withUnsafeMutableBytes { pread(file.descriptor, $0.baseAddress!, $0.count, 0) }
                return count >= 0 && (count < now.count || now != file.head)
            }

            /// Keeps the first bytes read of `file`, once it has them.
            func noteHead(_ file: inout Followed) {
                let wanted = Int(min(Int64(Self.headLength), file.offset))
                guard file.head.count < wanted else { return }
                var head = [UInt8](repeating: 0, count: wanted)
                let count = head.withUnsafeMutableBytes { pread(file.descriptor, $0.baseAddress!, $0.count, 0) }
                if count == wanted { file.head = head }
            }

            /// Reads what is new at `file.path`, following a rotation or truncation; whether anything was read.
            func poll(_ file: inout Followed, now: Double) throws -> Bool {
                if file.done { return false }
                if file.descriptor < 0 {
                    try open(&file)
                    defer { if file.descriptor >= 0 { noteHead(&file) } }
                    return try drain(&file)
                }
                var status = stat()
                if SystemPath.stat(file.path, &status) != 0 {
                    // Moved away, not replaced yet: the open file may still grow.
                    defer { noteHead(&file) }
                    return try drain(&file)
                }
                if UInt64(status.st_dev) != file.device || UInt64(status.st_ino) != file.inode {
                    // Rotated: the old file is read on until it has been quiet a while, the new one from its start.
                    var old = file
                    _ = try drain(&old)
                    old.lastGrowth = now
                    retired.append(old)
                    file.descriptor = -1
                    file.carry = []
                    file.skippingLongLine = false
                    try open(&file)
                    defer { if file.descriptor >= 0 { noteHead(&file) } }
                    _ = try drain(&file)
                    return true
                }
                var truncated = false
                var own = stat()
                if fstat(file.descriptor, &own) == 0, rewritten(file, size: Int64(own.st_size)) {
                    // Truncated in place (copytruncate): the file starts again.
                    try endLine(of: &file)
                    file.offset = 0
                    file.head = []
                    truncated = true
                }
                defer { noteHead(&file) }
                return try drain(&file) || truncated
            }

            /// Reads the files rotated away; one quiet for `rotateWait` seconds is finished.
            func pollRetired(now: Double) throws -> Bool {
                var progressed = false
                var index = 0
                while index < retired.count {
                    if try drain(&retired[index]) {
                        retired[index].lastGrowth = now
                        progressed = true
                    }
                    if retired[index].descriptor < 0 || now - retired[index].lastGrowth >= rotateWait {
                        try endLine(of: &retired[index])
                        if retired[index].descriptor >= 0 { close(retired[index].descriptor) }
                        retired.remove(at: index)
                    } else {
                        index += 1
                    }
                }
                return progressed
            }

            for index in files.indices {
                noteOthers(but: index)
                try open(&files[index])
                if files[index].descriptor >= 0 { noteHead(&files[index]) }
            }
            while true {
                var progressed = false
                let now = Self.monotonicSeconds()
                for index in files.indices {
                    noteOthers(but: index)
                    progressed = try poll(&files[index], now: now) || progressed
                }
                progressed = try pollRetired(now: now) || progressed
                if shouldStop() { break }
                if !progressed {
                    // Nothing new anywhere: hand on what is held, then wait.
                    try chunker.flushCompleteLines(emit: emit)
                    let interval = max(0.001, reader.followPollInterval)
                    var pause = timespec(tv_sec: Int(interval), tv_nsec: Int((interval - interval.rounded(.down)) * 1e9))
                    _ = nanosleep(&pause, nil)  // a signal cuts it short
                }
            }
            // Stopping: what the files rotated away hold now, then the files at the paths, at most
            // 64 MiB each (the run ends promptly whatever a file holds).
            for index in retired.indices {
                _ = try drain(&retired[index], budget: Self.finalDrain)
                try endLine(of: &retired[index])
                if retired[index].descriptor >= 0 { close(retired[index].descriptor) }
            }
            for index in files.indices {
                _ = try drain(&files[index], budget: Self.finalDrain)
                try endLine(of: &files[index])
                if files[index].descriptor >= 0 { close(files[index].descriptor) }
                if !files[index].found {
                    firstError =
                        firstError ?? InputError(path: files[index].path, offset: nil, message: "cannot open: not found while followed")
                } else if !files[index].foundRegular {
                    firstError =
                        firstError ?? InputError(path: files[index].path, offset: nil, message: "not a regular file: cannot be followed")
                }
            }
        }
        try chunker.finish(emit: emit)
        stats.decompressedBytes += stats.bytesRead
        return (stats, firstError)
    }

    /// Seconds on a clock that only goes forward (not the wall clock, which may be set back).
    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
