import Glibc
import LogSurgeInput

/// The input reader on arbitrary bytes: gzip detection and framing, both inflaters, chunking.
///
/// The bytes are written to a scratch file and read as `logsurge` reads a file, and, when
/// they fit in a pipe's buffer, through a pipe. With zlib, lines over 200 bytes are dropped
/// (so that fuzzing meets overlong lines) and the input is read in 16-byte reads (every buffer
/// boundary everywhere), in 4099-byte reads with small chunks, and through the pipe. A gzip
/// input is also read with 64 KiB lines and chunks by zlib and, where it loads, by ISA-L in
/// both read sizes. Checked:
/// - reads that differ only in read size, chunk size, pipe or inflater give the same lines,
///   overlong-line count, stats and error (offset and message): the inflaters agree, damaged
///   files included. The exception `GzipReader` documents is allowed: ISA-L reading past a
///   member whose Huffman codes zlib refuses. (The other one, output ISA-L gave past zlib's
///   that was already handed on or made a line too long, needs more output than these inputs
///   give with 64 KiB chunks and lines.)
/// - chunks hold whole lines no longer than the limit, are at least the target size except
///   the last, and account for every overlong line;
/// - plain input (not `1f 8b`) comes out as its own lines, a newline added to the last;
/// - the error, if any, names the input and has an offset within it, and an input read
///   without error was read to its end.
public enum GzipFuzz {
    /// Lines longer than this are dropped and counted in the zlib reads.
    static let maxLineLength = 200

    public static func check(_ data: UnsafeRawBufferPointer) -> [String] {
        var problems: [String] = []
        guard let file = ScratchFile(data) else { return ["cannot write a scratch file (errno \(errno))"] }
        defer { file.close() }
        let isGzip = data.count >= 2 && data[0] == 0x1F && data[1] == 0x8B

        func read(_ inflater: Inflater, readSize: Int, chunkSize: Int, maxLineLength: Int = Self.maxLineLength) -> Outcome {
            let reader = InputReader(targetChunkSize: chunkSize, maxLineLength: maxLineLength, readSize: readSize, inflater: inflater)
            let outcome = Outcome(reader, fileDescriptor: file.rewound(), isFile: true)
            let label = "\(inflater), \(readSize)-byte reads, \(chunkSize)-byte chunks"
            problems += (outcome.problems + validate(outcome, data, isGzip: isGzip, maxLineLength: maxLineLength)).map { "\(label): \($0)" }
            return outcome
        }
        let reference = read(.zlib, readSize: 16, chunkSize: 1000)
        let small = read(.zlib, readSize: 4099, chunkSize: 100)
        problems += reference.differences(from: small).map { "zlib, 4099-byte reads, 100-byte chunks: \($0)" }
        if let pipe = PipeInput(data) {
            let reader = InputReader(targetChunkSize: 100, maxLineLength: maxLineLength, readSize: 4099, inflater: .zlib)
            let outcome = Outcome(reader, fileDescriptor: pipe.readEnd, isFile: false)
            pipe.close()
            problems += outcome.problems.map { "pipe: \($0)" }
            problems += reference.differences(from: outcome).map { "pipe: \($0)" }
        }
        if isGzip && Inflater.isalUnavailableReason == nil {
            let zlib = read(.zlib, readSize: 16, chunkSize: 1 << 16, maxLineLength: 1 << 16)
            for readSize in [16, 4099] {
                let isal = read(.isal, readSize: readSize, chunkSize: 1 << 16, maxLineLength: 1 << 16)
                if !zlib.readsPastRefusal(isal) {
                    problems += zlib.differences(from: isal).map { "ISA-L, \(readSize)-byte reads: \($0)" }
                }
            }
        }
        return problems
    }

    /// What one read gave, and what was wrong with its chunks.
    struct Outcome {
        var output: [UInt8] = []
        var overlong = 0
        var stats = InputStats()
        var error: InputError?
        var problems: [String] = []

        init(_ reader: InputReader, fileDescriptor: Int32, isFile: Bool) {
            var chunks: [LineChunk] = []
            (stats, error) = reader.read(fileDescriptor: fileDescriptor, name: "fuzz") { chunks.append($0) }
            for (index, chunk) in chunks.enumerated() {
                output += chunk.bytes
                overlong += chunk.overlongLines
                if chunk.bytes.isEmpty ? chunk.overlongLines == 0 : chunk.bytes.last != 0x0A {
                    problems.append("chunk \(index) is empty or does not end in a newline")
                }
                if chunk.overlongLineOffsets.count != chunk.overlongLines
                    || chunk.overlongLineOffsets != chunk.overlongLineOffsets.sorted()
                    || !chunk.overlongLineOffsets.allSatisfy({ $0 == 0 || ($0 <= chunk.bytes.count && chunk.bytes[$0 - 1] == 0x0A) })
                {
                    problems.append("chunk \(index): overlong lines \(chunk.overlongLines) at \(chunk.overlongLineOffsets)")
                }
                var lineStart = 0
                for (offset, byte) in chunk.bytes.enumerated() where byte == 0x0A {
                    if offset - lineStart > reader.maxLineLength {
                        problems.append("chunk \(index) holds a line of \(offset - lineStart) bytes")
                    }
                    lineStart = offset + 1
                }
                if isFile && index < chunks.count - 1 && chunk.bytes.count < reader.targetChunkSize {
                    problems.append("chunk \(index) of \(chunks.count) has \(chunk.bytes.count) bytes, below the target")
                }
            }
        }

        /// True when zlib (this outcome) refused a member for its Huffman codes and ISA-L (`other`)
        /// read past it: ISA-L decodes incomplete codes, so it then ends elsewhere.
        func readsPastRefusal(_ other: Outcome) -> Bool {
            guard let message = error?.message, other.error?.message != message else { return false }
            return ["set)", "too many length or distance symbols", "invalid bit length repeat", "missing end-of-block"]
                .contains { message.contains($0) }
        }

        /// How `other` differs from this outcome (the inflater that ran aside).
        func differences(from other: Outcome) -> [String] {
            var found: [String] = []
            if output != other.output {
                let common = zip(output, other.output).prefix { $0 == $1 }.count
                found.append("output of \(other.output.count) bytes instead of \(output.count), first difference at \(common)")
            }
            if overlong != other.overlong { found.append("\(other.overlong) overlong lines instead of \(overlong)") }
            var (mine, theirs) = (stats, other.stats)
            (mine.inflater, theirs.inflater) = (nil, nil)
            if mine != theirs { found.append("stats \(theirs) instead of \(mine)") }
            if error?.offset != other.error?.offset || error?.message != other.error?.message {
                found.append("error \(other.error.map(\.description) ?? "none") instead of \(error.map(\.description) ?? "none")")
            }
            return found
        }
    }

    /// What is wrong with a read's stats, error and (for plain input) lines.
    static func validate(_ outcome: Outcome, _ data: UnsafeRawBufferPointer, isGzip: Bool, maxLineLength: Int) -> [String] {
        var problems: [String] = []
        let stats = outcome.stats
        if stats.compression != (isGzip ? .gzip : .none) { problems.append("compression \(stats.compression)") }
        if let error = outcome.error {
            if error.path != "fuzz" { problems.append("error names \(error.path)") }
            if let offset = error.offset, offset < 0 || offset > Int64(data.count) {
                problems.append("error offset \(offset) outside \(data.count) bytes")
            }
        } else if stats.bytesRead != Int64(data.count) {
            problems.append("no error, but \(stats.bytesRead) of \(data.count) bytes read")
        }
        if isGzip {
            if outcome.error == nil && stats.gzipMembers < 1 { problems.append("no error, but no gzip member") }
            return problems
        }
        // Plain text: the lines themselves, overlong ones counted, a final newline added.
        var expected: [UInt8] = []
        var overlong = 0
        var start = 0
        while start < data.count {
            var end = start
            while end < data.count && data[end] != 0x0A { end += 1 }
            if end - start > maxLineLength {
                overlong += 1
            } else {
                expected += data[start..<end]
                expected.append(0x0A)
            }
            start = end + 1
        }
        if outcome.error != nil { problems.append("plain input with error \(outcome.error!)") }
        if outcome.output != expected || outcome.overlong != overlong {
            problems.append(
                "plain input gave \(outcome.output.count) bytes and \(outcome.overlong) overlong lines, "
                    + "expected \(expected.count) and \(overlong)")
        }
        if stats.bytesRead != Int64(data.count) || stats.decompressedBytes != Int64(data.count) || stats.gzipMembers != 0 {
            problems.append("plain input stats \(stats)")
        }
        return problems
    }
}

/// An unlinked temporary file holding the input (in /dev/shm when there is one).
struct ScratchFile {
    let descriptor: Int32

    init?(_ data: UnsafeRawBufferPointer) {
        var directory = "/dev/shm"
        if access(directory, W_OK) != 0 { directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp" }
        var template = Array((directory + "/logsurge-fuzz-XXXXXX").utf8CString)
        descriptor = mkstemp(&template)
        guard descriptor >= 0 else { return nil }
        unlink(template)
        guard writeAll(descriptor, data) else {
            Glibc.close(descriptor)
            return nil
        }
    }

    /// The descriptor, positioned at the start.
    func rewound() -> Int32 {
        lseek(descriptor, 0, SEEK_SET)
        return descriptor
    }

    func close() { Glibc.close(descriptor) }
}

/// A pipe whose buffer holds the whole input, written and closed; nil when it cannot hold it.
struct PipeInput {
    let readEnd: Int32

    init?(_ data: UnsafeRawBufferPointer) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return nil }
        // F_SETPIPE_SZ (Linux; not exported to Swift): grow the buffer so one write fits.
        let setPipeSize: Int32 = 1031
        if data.count > 4096 && fcntl(ends[1], setPipeSize, Int32(data.count)) < 0 {
            Glibc.close(ends[0])
            Glibc.close(ends[1])
            return nil
        }
        let written = writeAll(ends[1], data)
        Glibc.close(ends[1])
        guard written else {
            Glibc.close(ends[0])
            return nil
        }
        readEnd = ends[0]
    }

    func close() { Glibc.close(readEnd) }
}

/// Writes all of `data` to `descriptor`; false on an error.
private func writeAll(_ descriptor: Int32, _ data: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < data.count {
        let count = write(descriptor, data.baseAddress! + offset, data.count - offset)
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { return false }
        offset += count
    }
    return true
}
