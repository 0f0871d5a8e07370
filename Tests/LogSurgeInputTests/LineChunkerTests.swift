import LogSurgeInput
import Testing

/// A named test input, shown by its name in test reports.
struct Sample: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    init(_ name: String, _ bytes: [UInt8]) { (self.name, self.bytes) = (name, bytes) }
    init(_ text: String) { self.init(text.debugDescription, Array(text.utf8)) }
    var testDescription: String { name }
}

/// Small inputs with the edge cases: empty, only newlines, no final newline, CRLF, empty lines.
let edgeInputs: [Sample] = [
    "", "\n", "\n\n\n", "a", "a\n", "no newline at the end", "one\ntwo\nthree",
    "crlf\r\nlines\r\n\r\nstay\r\n", "\r\n\r", "x\n\ny\n\n",
].map(Sample.init)

/// Random inputs: short lines, then longer lines without a final newline.
let randomInputs: [Sample] = [
    Sample("300 short lines", Fixtures.text(lineCount: 300, lengths: 0...40, seed: 1)),
    Sample("120 long lines, no final newline", Fixtures.text(lineCount: 120, lengths: 50...700, seed: 2, finalNewline: false)),
]

/// Checks the chunk invariants and the oracle for one way of feeding `input`.
func expectMatchesOracle(_ chunks: [LineChunk], _ input: [UInt8], targetSize: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(chunkLines(chunks) == oracleLines(input), sourceLocation: sourceLocation)
    for (index, chunk) in chunks.enumerated() {
        #expect(!chunk.bytes.isEmpty, "chunk \(index) is empty", sourceLocation: sourceLocation)
        #expect(chunk.bytes.last == 0x0A, "chunk \(index) does not end in a newline", sourceLocation: sourceLocation)
        #expect(chunk.overlongLines == 0, sourceLocation: sourceLocation)
        if index < chunks.count - 1 {
            #expect(chunk.bytes.count >= targetSize, "chunk \(index) emitted below the target", sourceLocation: sourceLocation)
        }
        // Cut at the first newline past the target: dropping the last line leaves less than the target.
        let withoutLastLine = chunk.bytes.dropLast().lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        #expect(withoutLastLine < targetSize, "chunk \(index) holds more lines than the target needs", sourceLocation: sourceLocation)
    }
    // Only a final line without newline gains a byte.
    let added = input.isEmpty || input.last == 0x0A ? 0 : 1
    #expect(chunks.reduce(0) { $0 + $1.bytes.count } == input.count + added, sourceLocation: sourceLocation)
}

/// Feeds `input` through `append` in pieces of `pieceSize`, then finishes.
func chunkByAppend(_ input: [UInt8], targetSize: Int, maxLineLength: Int = 1 << 20, pieceSize: Int) -> [LineChunk] {
    var chunker = LineChunker(targetSize: targetSize, maxLineLength: maxLineLength)
    var chunks: [LineChunk] = []
    input.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let end = min(offset + pieceSize, raw.count)
            chunker.append(UnsafeRawBufferPointer(rebasing: raw[offset..<end])) { chunks.append($0) }
            offset = end
        }
    }
    chunker.finish { chunks.append($0) }
    return chunks
}

/// Feeds `input` through `fill`, writing `pieceSize` bytes (or what is left) each time.
func chunkByFill(_ input: [UInt8], targetSize: Int, maxLineLength: Int = 1 << 20, pieceSize: Int) -> [LineChunk] {
    var chunker = LineChunker(targetSize: targetSize, maxLineLength: maxLineLength)
    var chunks: [LineChunk] = []
    input.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let count = min(pieceSize, raw.count - offset)
            let written = chunker.fill(minimumCapacity: count, emit: { chunks.append($0) }) { buffer in
                #expect(buffer.count >= count)
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
                return count
            }
            #expect(written == count)
            offset += count
        }
    }
    chunker.finish { chunks.append($0) }
    return chunks
}

@Suite("LineChunker")
struct LineChunkerTests {
    static let targetSizes = [1, 2, 3, 7, 64, 4096, 2 << 20]
    static let pieceSizes = [1, 2, 3, 5, 7, 13, 64, 100, 1000, 4096, 1 << 30]

    @Test("edge cases at every target size, fed in pieces of every size", arguments: targetSizes, edgeInputs)
    func edgeCases(targetSize: Int, sample: Sample) {
        let input = sample.bytes
        for pieceSize in Self.pieceSizes {
            expectMatchesOracle(chunkByAppend(input, targetSize: targetSize, pieceSize: pieceSize), input, targetSize: targetSize)
        }
    }

    @Test("random text at every target size, fed in pieces of every size and byte by byte", arguments: targetSizes, randomInputs)
    func randomText(targetSize: Int, sample: Sample) {
        let input = sample.bytes
        for pieceSize in Self.pieceSizes {
            expectMatchesOracle(chunkByAppend(input, targetSize: targetSize, pieceSize: pieceSize), input, targetSize: targetSize)
        }
    }

    @Test("a dropped overlong line is placed where it stood", arguments: [1, 3, 64, 4096])
    func overlongLinePlacement(pieceSize: Int) {
        let input = Array("a\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 100) + Array("\nbb\n".utf8)
        let chunks = chunkByAppend(input, targetSize: 1 << 20, maxLineLength: 10, pieceSize: pieceSize)
        #expect(chunks.map { String(decoding: $0.bytes, as: UTF8.self) } == ["a\nbb\n"])
        #expect(chunks.map(\.overlongLineOffsets) == [[2]])  // between "a\n" and "bb\n"
        #expect(chunks.map(\.overlongLines) == [1])
    }

    @Test("the default target size cuts a large input into chunks of at least 2 MiB")
    func defaultTargetSize() {
        // The short-line sample doubled past 5 MiB (it ends in a newline), then lines without a final newline.
        var input = randomInputs[0].bytes
        while input.count < 5 << 20 { input += input }
        input += randomInputs[1].bytes
        #expect(input.count > 5 << 20)
        for pieceSize in [999, 256 << 10] {
            let chunks = chunkByAppend(input, targetSize: 2 << 20, pieceSize: pieceSize)
            #expect(chunks.count >= 2)
            expectMatchesOracle(chunks, input, targetSize: 2 << 20)
            // Chunks end at the first newline past the target, whatever the write size.
            let longestLine = input.split(separator: 0x0A).map(\.count).max()!
            for chunk in chunks { #expect(chunk.bytes.count <= (2 << 20) + longestLine) }
        }
    }

    @Test("fill gives the same chunks as append", arguments: [1, 7, 64, 4096])
    func fillMatchesAppend(targetSize: Int) {
        for input in (randomInputs + edgeInputs).map(\.bytes) {
            for pieceSize in [1, 3, 13, 100, 4096] {
                let byFill = chunkByFill(input, targetSize: targetSize, pieceSize: pieceSize)
                let byAppend = chunkByAppend(input, targetSize: targetSize, pieceSize: pieceSize)
                #expect(byFill.map(\.bytes) == byAppend.map(\.bytes))
                expectMatchesOracle(byFill, input, targetSize: targetSize)
            }
        }
    }

    @Test("fill offers at least the capacity asked and writing nothing changes nothing")
    func fillCapacity() {
        var chunker = LineChunker(targetSize: 64, maxLineLength: 100)
        var chunks: [LineChunk] = []
        for minimum in [1, 10, 1000, 300_000] {
            let written = chunker.fill(minimumCapacity: minimum, emit: { chunks.append($0) }) { buffer in
                #expect(buffer.count >= minimum)
                return 0
            }
            #expect(written == 0)
        }
        chunker.finish { chunks.append($0) }
        #expect(chunks.isEmpty)
    }

    @Test("overlong lines are skipped and counted, wherever the pieces split them", arguments: [1, 3, 7, 11, 64, 4096])
    func overlongLines(pieceSize: Int) {
        let maxLine = 10
        var text = ""
        text += "short\n" + String(repeating: "x", count: 10) + "\n"  // exactly the limit: kept
        text += String(repeating: "y", count: 11) + "\n"  // one over: skipped
        text += String(repeating: "z", count: 5000) + "\r\n"  // long: skipped
        text += "after\n\n" + String(repeating: "w", count: 11) + "\n"  // skipped
        text += String(repeating: "v", count: 9) + "\r\n"  // 10 bytes with the CR: kept
        text += String(repeating: "t", count: 300)  // final, overlong, no newline
        let input = Array(text.utf8)
        let expected = oracleLines(input).filter { $0.count <= maxLine }
        let skipped = oracleLines(input).count - expected.count
        #expect(skipped == 4)
        for targetSize in [1, 7, 64] {
            for chunks in [
                chunkByAppend(input, targetSize: targetSize, maxLineLength: maxLine, pieceSize: pieceSize),
                chunkByFill(input, targetSize: targetSize, maxLineLength: maxLine, pieceSize: pieceSize),
            ] {
                #expect(chunkLines(chunks) == expected)
                #expect(chunks.reduce(0) { $0 + $1.overlongLines } == skipped)
                #expect(chunks.allSatisfy { $0.bytes.isEmpty || $0.bytes.last == 0x0A })
            }
        }
    }

    @Test("an input of nothing but an overlong line still reports it")
    func onlyOverlong() {
        let input = [UInt8](repeating: 0x41, count: 100)
        for finalNewline in [false, true] {
            let chunks = chunkByAppend(input + (finalNewline ? [0x0A] : []), targetSize: 64, maxLineLength: 10, pieceSize: 7)
            #expect(chunks.count == 1)
            #expect(chunks.first?.bytes == [])
            #expect(chunks.first?.overlongLines == 1)
        }
    }

    @Test("memory stays bounded by the target, the line limit and one piece, whatever the line length")
    func boundedMemory() {
        let targetSize = 4096
        let maxLine = 1000
        var chunker = LineChunker(targetSize: targetSize, maxLineLength: maxLine)
        var chunks: [LineChunk] = []
        let piece = [UInt8](repeating: 0x61, count: 64 << 10)
        var largestCapacity = 0
        // A 64 MiB line without a newline, then a normal line.
        for _ in 0..<1024 {
            piece.withUnsafeBytes { chunker.append($0) { chunks.append($0) } }
            largestCapacity = max(largestCapacity, chunker.bufferCapacity)
        }
        Array("\nnext\n".utf8).withUnsafeBytes { chunker.append($0) { chunks.append($0) } }
        chunker.finish { chunks.append($0) }
        #expect(largestCapacity > 0)
        #expect(largestCapacity <= targetSize + maxLine + (256 << 10))
        #expect(chunkLines(chunks) == [ArraySlice("next".utf8)])
        #expect(chunks.reduce(0) { $0 + $1.overlongLines } == 1)
    }

    @Test("a chunker is empty again after finish and can be reused")
    func reuse() {
        var chunker = LineChunker(targetSize: 3)
        var chunks: [LineChunk] = []
        for text in ["first\nsecond", "third\n"] {
            Array(text.utf8).withUnsafeBytes { chunker.append($0) { chunks.append($0) } }
            chunker.finish { chunks.append($0) }
        }
        #expect(chunkLines(chunks) == ["first", "second", "third"].map { ArraySlice($0.utf8) })
    }

    @Test("an error thrown by emit propagates")
    func emitThrows() {
        struct Stop: Error {}
        var chunker = LineChunker(targetSize: 1)
        #expect(throws: Stop.self) {
            try Array("a\nb\n".utf8).withUnsafeBytes { raw in
                try chunker.append(raw) { _ in throw Stop() }
            }
        }
    }
}

@Suite("chunk buffers recycled through a pool")
struct ChunkPoolTests {
    @Test("chunks are cut into handed-back buffers, with the same lines")
    func reusesBuffers() {
        let pool = ChunkPool(limit: 2)
        pool.give([UInt8](repeating: 0xEE, count: 50_000))
        pool.give([UInt8](repeating: 0xEE, count: 50_000))
        pool.give([UInt8](repeating: 0xEE, count: 50_000))  // over the limit: freed
        var chunker = LineChunker(targetSize: 1000)
        chunker.pool = pool
        let text = Fixtures.accessLog(lines: 40)
        var chunks: [LineChunk] = []
        text.withUnsafeBytes { chunker.append($0) { chunks.append($0) } }
        chunker.finish { chunks.append($0) }
        #expect(chunkLines(chunks) == oracleLines(text))
        // The first two chunks went into the pooled buffers (their capacity), the rest into new ones.
        #expect(chunks.prefix(2).allSatisfy { $0.bytes.capacity >= 50_000 })
        #expect(chunks.dropFirst(2).allSatisfy { $0.bytes.capacity < 50_000 })
        #expect(pool.take().capacity == 0)
    }
}
