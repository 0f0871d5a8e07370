import Foundation
@testable import LogSurgeInput
import LogSurgeTestSupport
import Testing
import LogSurgeCore

/// A line kept, or the mark of a line dropped as longer than the limit.
private enum Token: Equatable {
    case line(ArraySlice<UInt8>)
    case overlong
}

/// What `InputReader` makes of a file: its lines, with dropped ones where they stood.
private func readerTokens(_ path: String, maxLineLength: Int) -> (tokens: [Token], error: InputError?) {
    var tokens: [Token] = []
    let (_, error) = InputReader(targetChunkSize: 4096, maxLineLength: maxLineLength).read(.file(path)) { chunk in
        var dropped = chunk.overlongLineOffsets[...]
        var start = 0
        for line in oracleLines(chunk.bytes) {
            while let next = dropped.first, next <= start { tokens.append(.overlong); dropped.removeFirst() }
            tokens.append(.line(line))
            start += line.count + 1
        }
        tokens += dropped.map { _ in .overlong }
    }
    return (tokens, error)
}

/// What the ranges of `file` give, in order, with lines over the limit marked as dropped.
private func rangeTokens(_ file: PlainFile, rangeSize: Int64, maxLineLength: Int) -> (tokens: [Token], bytes: Int64) {
    var tokens: [Token] = []
    var bytes: Int64 = 0
    var buffer: [UInt8] = []
    var start: Int64 = 0
    while start < file.size {
        let lines = file.lines(startingIn: start..<(start + rangeSize), maxLineLength: maxLineLength, into: &buffer)
        #expect(lines.error == nil)
        #expect(lines.count == 0 || buffer[lines.count - 1] == 0x0A)
        for line in oracleLines(Array(buffer[..<lines.count])) {
            tokens.append(line.count > maxLineLength ? .overlong : .line(line))
        }
        if lines.overlongAtEnd { tokens.append(.overlong) }
        bytes += lines.rangeBytes
        #expect(buffer.count <= Int(rangeSize) + maxLineLength + 2)
        start += rangeSize
    }
    return (tokens, bytes)
}

@Suite("plain files read by ranges")
struct PlainFileTests {
    /// Lines of 0 to 120 bytes (the limit below is 50), some with CRs, some files without a final newline.
    static func randomText(seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var text: [UInt8] = []
        for _ in 0..<Int.random(in: 0...300, using: &generator) {
            let length = [0, 1, 5, 49, 50, 51, 120, Int.random(in: 0...120, using: &generator)].randomElement(using: &generator)!
            text += (0..<length).map { _ in [0x41, 0x20, 0x0D, 0x22].randomElement(using: &generator)! }
            text.append(0x0A)
        }
        if Bool.random(using: &generator) { text += Array("no final newline".utf8) }
        return text
    }

    @Test("the ranges give exactly the reader's lines, for any range size", arguments: 0..<40)
    func sameLinesAsTheReader(seed: Int) throws {
        let text = Self.randomText(seed: UInt64(seed))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", text)
        guard let file = PlainFile(path: path) else {
            #expect(text.isEmpty)
            return
        }
        #expect(file.size == Int64(text.count))
        let expected = readerTokens(path, maxLineLength: 50)
        #expect(expected.error == nil)
        for rangeSize: Int64 in [1, 2, 3, 7, 49, 50, 51, 64, 1000, 1 << 20] {
            let ranges = rangeTokens(file, rangeSize: rangeSize, maxLineLength: 50)
            #expect(ranges.tokens == expected.tokens, "range size \(rangeSize)")
            #expect(ranges.bytes == file.size)
        }
    }

    @Test("a 3 MB line without a newline is one overlong line, read within bounded memory")
    func hugeLine() throws {
        let text = [UInt8](repeating: 0x41, count: 3 << 20) + Array("\nshort\n".utf8)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try #require(PlainFile(path: try directory.write("huge.log", text)))
        let ranges = rangeTokens(file, rangeSize: 64 << 10, maxLineLength: 1 << 20)
        #expect(ranges.tokens == [.overlong, .line(ArraySlice("short".utf8))])
    }

    @Test("gzip, empty files, directories and missing files are left to the reader")
    func notForRanges() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(PlainFile(path: try directory.write("a.gz", gzip(Array("x\n".utf8)))) == nil)
        #expect(PlainFile(path: try directory.write("empty.log", [])) == nil)
        #expect(PlainFile(path: directory.path) == nil)
        #expect(PlainFile(path: directory.path + "/missing.log") == nil)
        #expect(PlainFile(path: try directory.write("one.log", [0x1F])) != nil)
        // A FIFO is not opened at all (that would wait for a writer).
        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(PlainFile(path: fifo) == nil)
    }

    @Test("a read error keeps every line before it, the one it cut short completed", arguments: [7, 200, 1000, 1 << 20])
    func readError(rangeSize: Int64) throws {
        let text = Fixtures.accessLog(lines: 60)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", text)
        for failure in stride(from: Int64(1), to: Int64(text.count), by: 97) {
            let file = try #require(PlainFile(path: path, failingFrom: failure))
            // As the pipeline merges: ranges in order, nothing after the first that failed.
            var tokens: [ArraySlice<UInt8>] = []
            var buffer: [UInt8] = []
            var start: Int64 = 0
            var error: InputError?
            while start < file.size, error == nil {
                let lines = file.lines(startingIn: start..<(start + rangeSize), maxLineLength: 1 << 20, into: &buffer)
                tokens += oracleLines(Array(buffer[..<lines.count]))
                error = lines.error
                start += rangeSize
            }
            #expect(error?.offset == failure, "failure at \(failure)")
            #expect(tokens == oracleLines(Array(text[..<Int(failure)])), "failure at \(failure)")
        }
    }

    @Test("a file that shrinks while read ends where its bytes end")
    func shrinking() throws {
        let text = Fixtures.accessLog(lines: 100)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", text)
        let file = try #require(PlainFile(path: path))
        #expect(truncate(path, off_t(text.count / 2)) == 0)
        let ranges = rangeTokens(file, rangeSize: 1000, maxLineLength: 1 << 20)
        let kept = oracleLines(Array(text[..<(text.count / 2)])).map(Token.line)
        #expect(ranges.tokens == kept)
        #expect(ranges.bytes == Int64(text.count / 2))
    }

    @Test(
        "holding back: the ranges give the reader's lines but an unterminated last one, and say where the lines end",
        arguments: 0..<20)
    func holdingBack(seed: Int) throws {
        let text = Self.randomText(seed: UInt64(seed))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", text)
        guard let file = PlainFile(path: path, holdingBackUnterminatedLine: true) else { return }
        let whole = text.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let expected = readerTokens(try directory.write("whole.log", Array(text[..<whole])), maxLineLength: 50)
        for rangeSize: Int64 in [1, 3, 50, 51, 1000, 1 << 20] {
            var buffer: [UInt8] = []
            var tokens: [Token] = []
            var linesEnd: Int64 = 0, heldBack: Int64 = 0
            var start: Int64 = 0
            while start < file.size {
                let lines = file.lines(startingIn: start..<(start + rangeSize), maxLineLength: 50, into: &buffer)
                for line in oracleLines(Array(buffer[..<lines.count])) { tokens.append(line.count > 50 ? .overlong : .line(line)) }
                if lines.overlongAtEnd { tokens.append(.overlong) }
                linesEnd = max(linesEnd, lines.linesEnd ?? 0)
                heldBack += lines.heldBack
                start += rangeSize
            }
            #expect(tokens == expected.tokens, "range size \(rangeSize)")
            #expect(heldBack == Int64(text.count - whole), "range size \(rangeSize)")
            // Where the lines end: after the last newline, short of a last overlong line (not read).
            if tokens.last != .overlong { #expect(linesEnd == Int64(whole), "range size \(rangeSize)") }
        }
    }

    @Test("holding back, nothing past the size at open is read: a line written since waits for a later run")
    func holdingBackStopsAtTheOpeningSize() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array("first\nsecond, half wri".utf8))
        let file = try #require(PlainFile(path: path, holdingBackUnterminatedLine: true))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("tten\nthird\n".utf8))
        try handle.close()
        var buffer: [UInt8] = []
        let lines = file.lines(startingIn: 0..<file.size, maxLineLength: 100, into: &buffer)
        #expect(Array(buffer[..<lines.count]) == Array("first\n".utf8))
        #expect(lines.linesEnd == 6)
        #expect(lines.heldBack == Int64("second, half wri".utf8.count))
        // Not holding back, the same range reads the line to its end.
        let reading = try #require(PlainFile(path: path))
        let all = reading.lines(startingIn: 0..<22, maxLineLength: 100, into: &buffer)
        #expect(Array(buffer[..<all.count]) == Array("first\nsecond, half written\n".utf8))
    }
}
