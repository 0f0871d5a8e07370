import Foundation
import LogSurgeInput
import Testing

/// Reads `bytes` from a temporary file named `name` with `reader`.
func readFile(
    _ bytes: [UInt8], name: String = "input.log.gz", reader: InputReader = InputReader()
) throws -> (chunks: [LineChunk], stats: InputStats, error: InputError?) {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write(name, bytes)
    let result = readAll(reader, .file(path))
    if let error = result.error { #expect(error.path == path) }
    return result
}

/// True when `emitted` is `original` cut after some byte, with a newline added to a cut line.
func isRecoveredPrefix(_ emitted: [UInt8], of original: [UInt8]) -> Bool {
    if emitted.count <= original.count && original.starts(with: emitted) { return true }
    return emitted.last == 0x0A && original.starts(with: emitted.dropLast())
}

@Suite("gzip input")
struct GzipReaderTests {
    static let text = Fixtures.accessLog(lines: 3000)
    static let compressed = gzip(text)
    /// zlib, and ISA-L where it can be loaded.
    static let inflaters = availableInflaters
    /// Read sizes that put member and buffer boundaries everywhere, and the default.
    static let readSizes = [16, 17, 4099, 256 << 10]

    @Test("a single member inflates to the original lines", arguments: inflaters, readSizes)
    func singleMember(inflater: Inflater, readSize: Int) throws {
        let reader = InputReader(targetChunkSize: 4096, readSize: readSize, inflater: inflater)
        let (chunks, stats, error) = try readFile(Self.compressed, reader: reader)
        #expect(error == nil)
        #expect(chunkLines(chunks) == oracleLines(Self.text))
        // Chunks end at the last newline of the inflate block that crossed the target.
        #expect(chunks.dropLast().allSatisfy { $0.bytes.count >= 4096 && $0.bytes.count < 4096 + readSize + 300 })
        if readSize < 4096 { #expect(chunks.count > 10) }
        #expect(
            stats
                == InputStats(
                    bytesRead: Int64(Self.compressed.count), decompressedBytes: Int64(Self.text.count), compression: .gzip,
                    gzipMembers: 1, inflater: inflater, linesEnd: Int64(Self.text.count)))
    }

    @Test("several members (cat a.gz b.gz c.gz) are read to the very end", arguments: inflaters, readSizes)
    func multiMember(inflater: Inflater, readSize: Int) throws {
        let parts = [
            Fixtures.accessLog(lines: 500, seed: 2), Array("partial first ".utf8), Array("line joined\nlast\n".utf8),
            Fixtures.accessLog(lines: 40, seed: 3),
        ]
        let file = parts.flatMap { gzip($0) }
        let (chunks, stats, error) = try readFile(file, reader: InputReader(targetChunkSize: 1000, readSize: readSize, inflater: inflater))
        #expect(error == nil)
        #expect(chunkLines(chunks) == oracleLines(parts.flatMap { $0 }))
        #expect(stats.gzipMembers == parts.count)
        #expect(stats.bytesRead == Int64(file.count))
    }

    @Test("empty members add nothing and are counted", arguments: inflaters)
    func emptyMembers(inflater: Inflater) throws {
        let reader = InputReader(inflater: inflater)
        let alone = try readFile(gzip([]), reader: reader)
        #expect(alone.error == nil)
        #expect(alone.chunks.isEmpty)
        #expect(alone.stats.gzipMembers == 1)
        #expect(alone.stats.decompressedBytes == 0)

        let mixed = try readFile(gzip([]) + gzip(Array("a\nb".utf8)) + gzip([]), reader: reader)
        #expect(mixed.error == nil)
        #expect(chunkLines(mixed.chunks) == [ArraySlice("a".utf8), ArraySlice("b".utf8)])
        #expect(mixed.stats.gzipMembers == 3)
    }

    @Test("a file truncated anywhere keeps the lines before the cut and reports the offset", arguments: inflaters, [16, 4099, 256 << 10])
    func truncated(inflater: Inflater, readSize: Int) throws {
        let text = Fixtures.accessLog(lines: 800, seed: 5)
        let file = gzip(text)
        let reader = InputReader(targetChunkSize: 2048, readSize: readSize, inflater: inflater)
        var cuts = Array(stride(from: 2, to: file.count, by: 101))
        cuts += Array(2..<24) + Array(file.count - 24..<file.count)
        var recoveredSome = false
        for cut in cuts {
            let (chunks, stats, error) = try readFile(Array(file[..<cut]), reader: reader)
            let emitted = chunks.flatMap(\.bytes)
            #expect(error?.offset == Int64(cut), "cut at \(cut)")
            #expect(error?.message == "gzip file truncated at byte \(cut)", "cut at \(cut)")
            #expect(isRecoveredPrefix(emitted, of: text), "cut at \(cut)")
            #expect(stats.bytesRead == Int64(cut))
            #expect(chunks.allSatisfy { $0.bytes.last == 0x0A })
            if cut >= file.count - 8 {
                // Only the trailer is missing: every line was recovered.
                #expect(emitted == text, "cut at \(cut)")
            }
            if emitted.count > text.count / 2 { recoveredSome = true }
        }
        #expect(recoveredSome)
    }

    @Test("what a truncated file gives does not depend on the read size", arguments: inflaters)
    func truncatedWhateverTheReadSize(inflater: Inflater) throws {
        // Runs of empty lines compress into long matches that can overflow an output block.
        var text: [UInt8] = []
        for (index, line) in Fixtures.accessLog(lines: 300, seed: 8).split(separator: 0x0A).enumerated() {
            text += line + [UInt8](repeating: 0x0A, count: 1 + index % 97 * 3)
        }
        let file = gzip(text, level: 9)
        for cut in stride(from: 30, to: file.count, by: 13) {
            let results = try [16, 100, 4099, 256 << 10].map { readSize in
                try readFile(Array(file[..<cut]), reader: InputReader(targetChunkSize: 512, readSize: readSize, inflater: inflater))
            }
            for result in results.dropFirst() {
                #expect(result.chunks.flatMap(\.bytes) == results[0].chunks.flatMap(\.bytes), "cut at \(cut)")
                #expect(result.error?.message == results[0].error?.message, "cut at \(cut)")
            }
        }
    }

    @Test("a damaged CRC-32 or length is named, after all lines were emitted", arguments: inflaters)
    func damagedTrailer(inflater: Inflater) throws {
        let reader = InputReader(inflater: inflater)
        var badCRC = Self.compressed
        badCRC[badCRC.count - 6] ^= 0x55
        let crc = try readFile(badCRC, reader: reader)
        // zlib stops after the CRC-32, before the length.
        #expect(crc.error?.message == "gzip data damaged (CRC-32 mismatch: incorrect data check) at byte \(badCRC.count - 4)")
        #expect(crc.error?.offset == Int64(badCRC.count - 4))
        #expect(chunkLines(crc.chunks) == oracleLines(Self.text))

        var badLength = Self.compressed
        badLength[badLength.count - 2] ^= 0x01
        let length = try readFile(badLength, reader: reader)
        #expect(length.error?.message.contains("length mismatch") == true)
    }

    @Test("a corrupted byte anywhere in the deflate data is an error with an offset, never a crash", arguments: inflaters)
    func corruptedBytes(inflater: Inflater) throws {
        let file = Self.compressed
        var messages = Set<String>()
        // Bytes 0..<10 are the header (its time and OS bytes are not checked); the last 8 the trailer.
        for position in stride(from: 10, to: file.count - 8, by: 97) {
            var damaged = file
            damaged[position] ^= 0xA5
            let (chunks, _, error) = try readFile(damaged, reader: InputReader(targetChunkSize: 512, readSize: 4099, inflater: inflater))
            let offset = try #require(error?.offset, "no error for a flipped byte at \(position)")
            #expect(offset >= Int64(position) && offset <= Int64(file.count), "position \(position)")
            #expect(chunks.allSatisfy { $0.bytes.last == 0x0A })
            messages.insert(error!.message.replacingOccurrences(of: #" at byte \d+"#, with: "", options: .regularExpression))
        }
        #expect(messages.allSatisfy { $0.hasPrefix("gzip data damaged (") || $0 == "trailing data after gzip member" })
        #expect(messages.contains { $0.contains("invalid") })
    }

    @Test("a lying back-reference is reported in zlib's words", arguments: inflaters)
    func invalidDistance(inflater: Inflater) throws {
        // Header, then a fixed-Huffman block whose first code is a match of length 3 at distance 1:
        // nothing was written yet, so zlib says "invalid distance too far back".
        let header: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]
        let deflate: [UInt8] = [0x03, 0x02, 0x00, 0x00, 0x00, 0x00]
        let (_, _, error) = try readFile(header + deflate, reader: InputReader(inflater: inflater))
        #expect(error?.message.hasPrefix("gzip data damaged (invalid distance too far back) at byte ") == true)
    }

    @Test("trailing garbage after the last member is an error at its offset; zero padding is fine", arguments: inflaters)
    func trailingData(inflater: Inflater) throws {
        let file = Self.compressed
        let cases: [(tail: [UInt8], errorAt: Int?)] = [
            (Array("garbage\n".utf8), file.count),
            ([0x1F], file.count),
            ([0x1F, 0x00, 0x00], file.count),
            ([UInt8](repeating: 0, count: 1000), nil),
            ([UInt8](repeating: 0, count: 10) + [0x41], file.count + 10),
        ]
        for (tail, errorAt) in cases {
            for readSize in [16, 256 << 10] {
                let (chunks, stats, error) = try readFile(file + tail, reader: InputReader(readSize: readSize, inflater: inflater))
                #expect(chunkLines(chunks) == oracleLines(Self.text))
                #expect(stats.gzipMembers == 1)
                if let errorAt {
                    #expect(error?.message == "trailing data after gzip member at byte \(errorAt)")
                    #expect(error?.offset == Int64(errorAt))
                } else {
                    #expect(error == nil)
                }
            }
        }
        // A second member's magic then nothing: that member is truncated.
        let (_, _, error) = try readFile(file + [0x1F, 0x8B], reader: InputReader(inflater: inflater))
        #expect(error?.message == "gzip file truncated at byte \(file.count + 2)")
    }

    @Test("compression comes from the content, never the name")
    func detectionByContent() throws {
        let plain = try readFile(Self.text, name: "looks-compressed.log.gz")
        #expect(plain.error == nil)
        #expect(plain.stats.compression == .none)
        #expect(chunkLines(plain.chunks) == oracleLines(Self.text))

        let compressed = try readFile(Self.compressed, name: "access.log")
        #expect(compressed.error == nil)
        #expect(compressed.stats.compression == .gzip)
        #expect(chunkLines(compressed.chunks) == oracleLines(Self.text))

        // One magic byte alone is plain text.
        let single = try readFile([0x1F], name: "x.gz")
        #expect(single.stats.compression == .none)
        #expect(single.chunks.map(\.bytes) == [[0x1F, 0x0A]])
    }

    @Test("gzip through a pipe, delivered a few bytes at a time", arguments: inflaters, [1, 3, 1000, 100_000])
    func gzipThroughPipe(inflater: Inflater, pieceSize: Int) {
        let file = gzip(Fixtures.accessLog(lines: 200, seed: 9)) + gzip(Array("tail line".utf8))
        let (chunks, stats, error) = readThroughPipe(
            InputReader(targetChunkSize: 999, readSize: 4096, inflater: inflater), file, pieceSize: pieceSize)
        #expect(error == nil)
        #expect(stats.compression == .gzip)
        #expect(stats.inflater == .zlib)  // a pipe cannot be read again: zlib, whatever was asked
        #expect(stats.gzipMembers == 2)
        #expect(chunkLines(chunks) == oracleLines(Fixtures.accessLog(lines: 200, seed: 9) + Array("tail line".utf8)))
    }

    @Test("a highly compressible stream inflates in bounded chunks", arguments: inflaters)
    func compressionBomb(inflater: Inflater) throws {
        // 2^19 copies of one line (36 MiB) compress several hundred times.
        var text = Array("203.0.113.9 - - [09/Nov/2016:02:31:00 +0000] \"GET / HTTP/1.1\" 200 1\n".utf8)
        for _ in 0..<19 { text += text }
        let file = gzip(text, level: 9)
        #expect(file.count < text.count / 200)
        var largest = 0
        var total = 0
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("bomb.gz", file)
        let (stats, error) = InputReader(inflater: inflater).read(.file(path)) { chunk in
            largest = max(largest, chunk.bytes.count)
            total += chunk.bytes.count
        }
        #expect(error == nil)
        #expect(total == text.count)
        #expect(stats.decompressedBytes == Int64(text.count))
        #expect(largest <= (2 << 20) + (256 << 10))
    }
}
