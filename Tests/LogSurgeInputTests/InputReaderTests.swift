import Foundation
import LogSurgeInput
import Testing

@Suite("plain input")
struct InputReaderTests {
    static let text = Fixtures.text(lineCount: 5000, lengths: 0...300, seed: 11, finalNewline: false)

    @Test("a plain file reads to the oracle lines with exact stats", arguments: [16, 4099, 256 << 10])
    func plainFile(readSize: Int) throws {
        let reader = InputReader(targetChunkSize: 10_000, readSize: readSize)
        let (chunks, stats, error) = try readFile(Self.text, name: "access.log", reader: reader)
        #expect(error == nil)
        #expect(chunkLines(chunks) == oracleLines(Self.text))
        if readSize < 10_000 { #expect(chunks.count > 10) }
        #expect(chunks.dropLast().allSatisfy { $0.bytes.count >= 10_000 && $0.bytes.count < 10_000 + readSize + 300 })
        #expect(chunks.allSatisfy { $0.bytes.last == 0x0A })
        #expect(
            stats
                == InputStats(
                    bytesRead: Int64(Self.text.count), decompressedBytes: Int64(Self.text.count), compression: .none, gzipMembers: 0,
                    linesEnd: Int64(Self.text.count)))
    }

    @Test("CRLF line ends pass through unchanged")
    func crlf() throws {
        let text = Array("a\r\nb\r\n\r\nlast\r".utf8)
        let (chunks, _, error) = try readFile(text, name: "crlf.log")
        #expect(error == nil)
        #expect(chunks.flatMap(\.bytes) == Array("a\r\nb\r\n\r\nlast\r\n".utf8))
    }

    @Test("an empty file gives no chunks and no error")
    func emptyFile() throws {
        let (chunks, stats, error) = try readFile([], name: "empty.log")
        #expect(chunks.isEmpty)
        #expect(error == nil)
        #expect(stats == InputStats())
    }

    @Test("overlong lines in a file are counted, not lost")
    func overlongInFile() throws {
        let text = Array(("ok\n" + String(repeating: "x", count: 5000) + "\nfine\n").utf8)
        let (chunks, _, error) = try readFile(
            text, name: "long.log", reader: InputReader(targetChunkSize: 64, maxLineLength: 100, readSize: 256))
        #expect(error == nil)
        #expect(chunkLines(chunks) == [ArraySlice("ok".utf8), ArraySlice("fine".utf8)])
        #expect(chunks.reduce(0) { $0 + $1.overlongLines } == 1)
    }

    @Test("standard input through a pipe, in pieces of any size", arguments: [1, 2, 7, 4096, 1 << 20])
    func pipe(pieceSize: Int) {
        let (chunks, stats, error) = readThroughPipe(InputReader(targetChunkSize: 3000, readSize: 1000), Self.text, pieceSize: pieceSize)
        #expect(error == nil)
        #expect(stats.bytesRead == Int64(Self.text.count))
        #expect(chunkLines(chunks) == oracleLines(Self.text))
    }

    @Test("a missing file or a directory is an error without offset")
    func unopenable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = directory.file("missing.log")
        let (chunks, stats, error) = readAll(InputReader(), .file(missing))
        #expect(chunks.isEmpty)
        #expect(stats == InputStats())
        #expect(error == InputError(path: missing, offset: nil, message: "cannot open: No such file or directory"))

        let folder = readAll(InputReader(), .file(directory.path))
        #expect(folder.error == InputError(path: directory.path, offset: nil, message: "is a directory"))
    }

    @Test("a read error is reported with its offset")
    func readError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // read(2) on a directory descriptor fails with EISDIR.
        let fd = open(directory.path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var chunks: [LineChunk] = []
        let (_, error) = InputReader().read(fileDescriptor: fd, name: "dir") { chunks.append($0) }
        #expect(error == InputError(path: "dir", offset: 0, message: "read error: Is a directory"))
        #expect(chunks.isEmpty)
    }

    @Test("an error thrown by the consumer stops reading and propagates")
    func consumerError() throws {
        struct Cancelled: Error {}
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let plain = try directory.write("a.log", Self.text)
        let compressed = try directory.write("a.gz", gzip(Self.text))
        for path in [plain, compressed] {
            var seen = 0
            #expect(throws: Cancelled.self) {
                _ = try InputReader(targetChunkSize: 1000).read(.file(path)) { _ in
                    seen += 1
                    if seen == 3 { throw Cancelled() }
                }
            }
            #expect(seen == 3)
        }
    }

    @Test("display names")
    func displayNames() {
        #expect(InputSource.standardInput.displayName == "-")
        #expect(InputSource.file("/var/log/a.log").displayName == "/var/log/a.log")
        #expect(InputError(path: "x", offset: 3, message: "m").description == "x: m")
    }
}

@Suite("inputs that change while read")
struct ShrinkingInputTests {
    @Test(
        "a file cut short while the reader is inside it ends there: plain at its new end, gzip as truncated",
        arguments: [false, true])
    func cutWhileRead(compressed: Bool) throws {
        let text = Fixtures.accessLog(lines: 3000, seed: 13)
        let bytes = compressed ? gzip(text) : text
        let half = bytes.count / 2
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("live.log", bytes)
        var chunks: [LineChunk] = []
        // The first chunk is handed on after a few reads of 4 KiB: the cut comes while reading.
        let (stats, error) = InputReader(targetChunkSize: 4096, readSize: 4096).read(.file(path)) { chunk in
            if chunks.isEmpty { #expect(truncate(path, off_t(half)) == 0) }
            chunks.append(chunk)
        }
        let emitted = chunks.flatMap(\.bytes)
        #expect(chunks.count > 1)
        #expect(isRecoveredPrefix(emitted, of: text))
        #expect(chunks.allSatisfy { $0.bytes.last == 0x0A })
        if compressed {
            #expect(error == InputError(path: path, offset: Int64(half), message: "gzip file truncated at byte \(half)"))
            #expect(emitted.count > text.count / 4)
        } else {
            #expect(error == nil)
            #expect(stats.bytesRead == Int64(half))
            #expect(oracleLines(emitted) == oracleLines(Array(text[..<half])))
        }
    }
}

@Suite("live streams")
struct LiveStreamTests {
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var chunks: [LineChunk] = []
    }

    @Test("lines from a pipe whose writer pauses are handed on before the input ends")
    func pausedWriter() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let box = Box()
        let firstChunk = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let readEnd = fds[0]
        DispatchQueue.global().async {
            _ = InputReader().read(fileDescriptor: readEnd, name: "pipe") { chunk in
                box.lock.withLock { box.chunks.append(chunk) }
                firstChunk.signal()
            }
            done.signal()
        }
        let lines = "a 1\nb 2\nc 3 (partial"
        _ = lines.withCString { write(fds[1], $0, strlen($0)) }
        // Far below the 2 MiB target, yet the complete lines arrive while the pipe stays open.
        #expect(firstChunk.wait(timeout: .now() + 10) == .success)
        #expect(box.lock.withLock { box.chunks.map { String(decoding: $0.bytes, as: UTF8.self) } } == ["a 1\nb 2\n"])
        _ = " line)\n".withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        #expect(done.wait(timeout: .now() + 10) == .success)
        close(readEnd)
        #expect(
            box.lock.withLock { box.chunks.map { String(decoding: $0.bytes, as: UTF8.self) }.joined() } == "a 1\nb 2\nc 3 (partial line)\n")
    }

    @Test("holding back: an unterminated last line is not emitted unless it ends a whole gzip file; linesEnd says where lines end")
    func holdingBack() throws {
        var reader = InputReader(targetChunkSize: 4096)
        reader.holdsBackUnterminatedLine = true
        let text = Array("one\ntwo\nthree, half".utf8)
        // Plain: held back.
        let plain = try readFile(text, name: "access.log", reader: reader)
        #expect(plain.chunks.flatMap(\.bytes) == Array("one\ntwo\n".utf8))
        #expect(plain.stats.heldBack == 11 && plain.stats.linesEnd == 8)
        // Resumed from there after the line ended: the rest, from its start.
        let grown = text + Array(" written\nfour\n".utf8)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("grown.log", grown)
        var resumed: [UInt8] = []
        let (stats, error) = reader.read(.file(path), skip: 8) { resumed += $0.bytes }
        #expect(error == nil)
        #expect(resumed == Array("three, half written\nfour\n".utf8))
        #expect(stats.linesEnd == Int64(grown.count) && stats.heldBack == 0)
        // A whole gzip file: its last line is final, and emitted.
        let whole = try readFile(gzip(text), name: "old.log.gz", reader: reader)
        #expect(whole.error == nil)
        #expect(whole.chunks.flatMap(\.bytes) == text + [0x0A])
        #expect(whole.stats.heldBack == 0 && whole.stats.linesEnd == Int64(text.count))
        // A gzip file cut short (still being written): the lines before the cut, the cut one held back.
        let long = Fixtures.accessLog(lines: 400)
        let compressed = gzip(long)
        var heldBackSomewhere = false
        for cutAt in stride(from: compressed.count / 4, to: compressed.count - 8, by: 701) {
            let cut = try readFile(Array(compressed.prefix(cutAt)), name: "cut.log.gz", reader: reader)
            #expect(cut.error != nil)
            let emitted = cut.chunks.flatMap(\.bytes)
            #expect(emitted.isEmpty || emitted.last == 0x0A && long.starts(with: emitted))
            #expect(cut.stats.linesEnd == Int64(emitted.count))
            #expect(cut.stats.linesEnd + cut.stats.heldBack == cut.stats.decompressedBytes)
            if cut.stats.heldBack > 0 { heldBackSomewhere = true }
        }
        #expect(heldBackSomewhere)
    }
}
