import Glibc

/// A plain (not gzip) regular file whose byte ranges parse workers read themselves.
///
/// A stream must be read in order by one thread; a regular file need not. Each worker reads,
/// with pread(2), the lines that start inside its own byte range, straight into its own
/// reusable buffer: reading is spread over the workers like parsing, and no byte is copied
/// between threads. Together the ranges give exactly the lines that `InputReader` would cut
/// from the same file (see `lines(startingIn:into:)`).
///
/// The file is read up to the size it had when opened (a last line that runs on past it is
/// read to its end, unless the file holds back an unterminated last line). The descriptor
/// closes when the last reference goes.
public final class PlainFile: Sendable {
    public let path: String
    /// Bytes when opened.
    public let size: Int64
    private let descriptor: Int32
    /// A last line without its newline is not read as a line (`--state`: it may be half
    /// written; a later run reads it whole). Nothing past `size` is read then.
    public let holdsBackUnterminatedLine: Bool
    /// For tests: reads at or past this offset fail with EIO, as a bad disk sector would.
    let failingFrom: Int64?

    /// Opens `path` when it is a non-empty regular file that does not start with the gzip
    /// magic bytes; nil otherwise (and for any error: `InputReader` then reads it and reports).
    public convenience init?(path: String, holdingBackUnterminatedLine: Bool = false) {
        self.init(path: path, failingFrom: nil, holdingBackUnterminatedLine: holdingBackUnterminatedLine)
    }

    /// The same, for a file already open as `descriptor` (which stays the caller's: a
    /// duplicate is kept), so that what is read is the file that was identified, whatever
    /// has happened to its path since.
    public init?(duplicating descriptor: Int32, path: String, holdingBackUnterminatedLine: Bool = false) {
        let fd = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0, let size = Self.plainSize(fd) else {
            if fd >= 0 { close(fd) }
            return nil
        }
        self.path = path
        self.size = size
        self.descriptor = fd
        self.holdsBackUnterminatedLine = holdingBackUnterminatedLine
        self.failingFrom = nil
    }

    init?(path: String, failingFrom: Int64?, holdingBackUnterminatedLine: Bool = false) {
        self.failingFrom = failingFrom
        // Look before opening: opening a FIFO would wait for a writer, and what it wrote would
        // then be lost to the reader that reads it next.
        var before = stat()
        guard SystemPath.stat(path, &before) == 0, before.st_mode & S_IFMT == S_IFREG else { return nil }
        let fd = FileIO.openForReading(path)
        guard fd >= 0 else { return nil }
        guard let size = Self.plainSize(fd) else {
            close(fd)
            return nil
        }
        self.path = path
        self.size = size
        self.descriptor = fd
        self.holdsBackUnterminatedLine = holdingBackUnterminatedLine
    }

    /// The size of the file open as `fd` when it is a non-empty regular file that does not
    /// start with the gzip magic bytes.
    private static func plainSize(_ fd: Int32) -> Int64? {
        var info = stat()
        var head = [UInt8](repeating: 0, count: 4096)
        let count = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size > 0,
            count >= 1, !(count >= 2 && head[0] == 0x1F && head[1] == 0x8B),
            head.withUnsafeBytes({ UnreadableCompression.format(of: UnsafeRawBufferPointer(rebasing: $0[..<count])) }) == nil
        else { return nil }
        // Lines ended by CR alone (no "\n" in the first 4 KiB, some "\r"): ranges are cut at
        // "\n", so the reader reads it, which takes CR for the line end.
        let sample = head[..<count]
        if !sample.contains(0x0A), sample.contains(0x0D) { return nil }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        return Int64(info.st_size)
    }

    deinit { close(descriptor) }

    /// What a range held.
    public struct RangeLines: Sendable {
        /// Bytes at the start of the buffer: the range's lines, each ending in `"\n"` (one is
        /// added to a final line without it), lines longer than `maxLineLength` included.
        public var count = 0
        /// The range's last line ran on past `maxLineLength` beyond the range: it is counted
        /// as one overlong line after the others, and not read.
        public var overlongAtEnd = false
        /// Bytes of the range that the file held (the sum over all ranges is the bytes read).
        public var rangeBytes: Int64 = 0
        /// A read error: the lines before it are in the buffer, as `InputReader` would keep them.
        public var error: InputError?
        /// Where the last line read ends in the file (just after its newline); nil when no
        /// line of the range was read whole. A later run resumes from the largest of these.
        public var linesEnd: Int64?
        /// Bytes of an unterminated last line left out (`holdsBackUnterminatedLine`).
        public var heldBack: Int64 = 0
        /// Where a read met the end of the file, when it came before the size seen at open.
        var fileEnd: Int64?
    }

    /// Reads the lines whose first byte lies in `range` into `buffer` (grown as needed, reused
    /// across calls); a line is read past the range's end up to its `"\n"`.
    ///
    /// A line starts at offset 0 and after every `"\n"`. A line longer than `maxLineLength`
    /// that would have to be read past the range is not read but reported in `overlongAtEnd`,
    /// so the buffer stays within the range's size plus `maxLineLength` plus 1.
    public func lines(startingIn range: Range<Int64>, maxLineLength: Int, into buffer: inout [UInt8]) -> RangeLines {
        let end = min(range.upperBound, size)
        guard range.lowerBound < end else { return RangeLines() }
        var result = readLines(startingIn: range.lowerBound..<end, maxLineLength: maxLineLength, into: &buffer)
        // The range's bytes that the file still held (it may have shrunk since it was opened).
        result.rangeBytes = max(0, min(end, result.fileEnd ?? end) - range.lowerBound)
        return result
    }

    private func readLines(startingIn range: Range<Int64>, maxLineLength: Int, into buffer: inout [UInt8]) -> RangeLines {
        var result = RangeLines()
        let end = range.upperBound

        // The first line starting in the range: right after the first "\n" at or after start - 1.
        // It is usually a line's length away, so the search reads a little at a time rather
        // than the whole range, which is then read again from that line on.
        var first = range.lowerBound
        if first > 0 {
            var offset = first - 1
            var block = 256
            while true {
                let want = Int(min(Int64(block), end - offset))
                // Not one line starts in the range.
                guard want > 0 else { return result }
                reserve(&buffer, want)
                let got = readFully(into: &buffer, at: 0, count: want, offset: offset, result: &result)
                if let newline = firstNewline(buffer, 0..<got) {
                    first = offset + Int64(newline) + 1
                    if first >= end {
                        result.error = nil  // past this range: a later range meets it
                        return result
                    }
                    if result.error != nil {
                        // The lines read before the error are the range's, the last one cut short.
                        let kept = got - (newline + 1)
                        buffer.withUnsafeMutableBytes { raw in
                            // In bounds: [newline + 1, got) lies inside the bytes just read.
                            raw.baseAddress!.copyMemory(from: raw.baseAddress! + newline + 1, byteCount: kept)
                        }
                        return finish(count: kept, buffer: &buffer, at: first, result: result)
                    }
                    break
                }
                // No line starts before what could be read ends: the file ended, or an error
                // inside the range ends the input here (as it may also in the range whose line
                // runs into it: the first report in order is the one kept).
                if got < want || result.error != nil { return result }
                offset += Int64(got)
                block = min(block * 2, 64 << 10)
            }
        }

        // The range's own bytes, then the rest of its last line.
        let own = Int(end - first)
        reserve(&buffer, own + 1)
        var count = readFully(into: &buffer, at: 0, count: own, offset: first, result: &result)
        if count == own && result.error == nil {
            let lastLineStart = lastNewline(buffer, 0..<count).map { $0 + 1 } ?? 0
            var block = 256
            while lastLineStart < count {
                // The last line is partial: read on until its newline, the end of the file, or too long.
                if count - lastLineStart > maxLineLength {
                    count = lastLineStart
                    result.overlongAtEnd = true
                    break
                }
                var want = min(block, maxLineLength + 1 - (count - lastLineStart))
                // Holding back an unterminated last line, the file ends where it ended at open.
                if holdsBackUnterminatedLine {
                    want = Int(min(Int64(want), size - (first + Int64(count))))
                    if want <= 0 { break }
                }
                reserve(&buffer, count + want + 1)
                let got = readFully(into: &buffer, at: count, count: want, offset: first + Int64(count), result: &result)
                if let newline = firstNewline(buffer, count..<(count + got)) {
                    count = newline + 1
                    result.error = nil  // past the range's last line: the range that owns it meets it
                    break
                }
                count += got
                if got < want || result.error != nil { break }  // end of file (or error) inside the line
                block = min(block * 2, 64 << 10)
            }
        }
        return finish(count: count, buffer: &buffer, at: first, result: result)
    }

    /// The range's `count` bytes of lines, read from offset `start` of the file: a last line
    /// without its newline (the end of the file, or a read error, came inside it) is given one,
    /// or left out when the file holds it back.
    private func finish(count: Int, buffer: inout [UInt8], at start: Int64, result: RangeLines) -> RangeLines {
        var result = result
        var count = count
        if count > 0 && buffer[count - 1] != 0x0A {
            if holdsBackUnterminatedLine {
                let whole = lastNewline(buffer, 0..<count).map { $0 + 1 } ?? 0
                result.heldBack = Int64(count - whole)
                count = whole
                result.count = count
            } else {
                reserve(&buffer, count + 1)
                buffer[count] = 0x0A
                result.count = count + 1
            }
        } else {
            result.count = count
        }
        if count > 0 { result.linesEnd = start + Int64(count) }
        return result
    }

    /// The chunks `InputReader` would emit for the file's first lines, one line per chunk,
    /// read until `enough` says so or the file ends: the sample `--format auto` decides from.
    public func leadingChunks(maxLineLength: Int, until enough: ([LineChunk]) -> Bool) -> [LineChunk] {
        var chunker = LineChunker(targetSize: 1, maxLineLength: maxLineLength)
        var chunks: [LineChunk] = []
        var offset: Int64 = 0
        var unused = RangeLines()
        while !enough(chunks) {
            var block = [UInt8](repeating: 0, count: 64 << 10)
            let got = readFully(into: &block, at: 0, count: block.count, offset: offset, result: &unused)
            if got == 0 { break }
            offset += Int64(got)
            block.withUnsafeBytes { chunker.append(UnsafeRawBufferPointer(rebasing: $0[..<got])) { chunks.append($0) } }
        }
        if !enough(chunks) { chunker.finish { chunks.append($0) } }
        return chunks
    }

    /// Grows `buffer` to hold at least `count` bytes.
    private func reserve(_ buffer: inout [UInt8], _ count: Int) {
        if buffer.count < count { buffer += [UInt8](repeating: 0, count: count - buffer.count) }
    }

    /// pread(2)s `count` bytes at `offset` into `buffer[at...]`, retrying short reads; returns
    /// how many arrived (fewer at the end of the file or on an error, which goes into `result`).
    private func readFully(into buffer: inout [UInt8], at start: Int, count: Int, offset: Int64, result: inout RangeLines) -> Int {
        var done = 0
        let fd = descriptor
        buffer.withUnsafeMutableBytes { raw in
            while done < count {
                var want = count - done
                if let failingFrom {
                    if offset + Int64(done) >= failingFrom {
                        let at = offset + Int64(done)
                        result.error = InputError(path: path, offset: at, message: "read error: \(FileIO.message(EIO)) at byte \(at)")
                        break
                    }
                    want = min(want, Int(failingFrom - offset - Int64(done)))
                }
                // In bounds: the caller reserved buffer[start..<start + count].
                let got = pread(fd, raw.baseAddress! + start + done, want, off_t(offset + Int64(done)))
                if got > 0 {
                    ReadProgress.add(got)
                    done += got
                } else if got == 0 {
                    result.fileEnd = min(result.fileEnd ?? Int64.max, offset + Int64(done))
                    break
                } else if errno != EINTR {
                    let at = offset + Int64(done)
                    result.error = InputError(path: path, offset: at, message: "read error: \(FileIO.message(errno)) at byte \(at)")
                    break
                }
            }
        }
        return done
    }

    private func firstNewline(_ buffer: [UInt8], _ span: Range<Int>) -> Int? {
        guard !span.isEmpty else { return nil }
        return buffer.withUnsafeBytes { raw in ByteScan.firstNewline(raw.baseAddress!, in: span) }
    }

    private func lastNewline(_ buffer: [UInt8], _ span: Range<Int>) -> Int? {
        guard !span.isEmpty else { return nil }
        return buffer.withUnsafeBytes { raw in ByteScan.lastNewline(raw.baseAddress!, in: span) }
    }
}
