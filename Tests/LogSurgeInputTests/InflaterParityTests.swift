import CZlib
import Foundation
import LogSurgeInput
import LogSurgeTestSupport
import Testing
import LogSurgeCore

/// zlib and ISA-L must give the same lines, stats and errors for every file, damaged or not.
@Suite("zlib and ISA-L parity", .enabled(if: Inflater.isalUnavailableReason == nil, "ISA-L is not available here"))
struct InflaterParityTests {
    static let text = Fixtures.accessLog(lines: 1500, seed: 21)
    static let file = gzip(Array(text[..<40_000])) + gzip(Array(text[40_000...]), level: 1)

    /// Reads `bytes` from a file with both inflaters and checks that they agree in everything.
    func expectSameResults(_ bytes: [UInt8], readSize: Int = 4099, _ comment: Comment) throws {
        let zlib = try readFile(bytes, reader: InputReader(targetChunkSize: 3000, readSize: readSize, inflater: .zlib))
        let isal = try readFile(bytes, reader: InputReader(targetChunkSize: 3000, readSize: readSize, inflater: .isal))
        #expect(isal.chunks.map(\.bytes) == zlib.chunks.map(\.bytes), comment)
        if zlib.stats.compression == .gzip {
            #expect(zlib.stats.inflater == .zlib && isal.stats.inflater == .isal, comment)
        }
        var (zlibStats, isalStats) = (zlib.stats, isal.stats)
        (zlibStats.inflater, isalStats.inflater) = (nil, nil)
        #expect(isalStats == zlibStats, comment)
        // Each read had its own temporary directory: compare all but the path.
        #expect(isal.error?.offset == zlib.error?.offset, comment)
        #expect(isal.error?.message == zlib.error?.message, comment)
    }

    @Test("ISA-L is really used when asked for")
    func isalIsUsed() {
        #expect(InputReader(inflater: .isal).inflater == .isal)
        #expect(Inflater.automatic == .isal)
        #expect(Inflater.isal.description.hasPrefix("ISA-L (libisal.so"))
    }

    @Test("valid files: one member, several, empty members, padding", arguments: [16, 4099, 256 << 10])
    func validFiles(readSize: Int) throws {
        try expectSameResults(Self.file, readSize: readSize, "two members")
        try expectSameResults(gzip([]) + Self.file + gzip([]), readSize: readSize, "empty members around")
        try expectSameResults(Self.file + [UInt8](repeating: 0, count: 700), readSize: readSize, "zero padding")
    }

    @Test("truncated at every byte of the header and trailer and throughout the data")
    func truncations() throws {
        let cuts = Array(0..<40) + Array(stride(from: 40, to: Self.file.count, by: 211)) + Array(Self.file.count - 30..<Self.file.count)
        for cut in cuts where cut >= 2 {
            try expectSameResults(Array(Self.file[..<cut]), "cut at \(cut)")
        }
    }

    @Test("truncated highly repetitive data: output the inflater still held is not lost")
    func truncatedRepetitive() throws {
        // Long matches: a call can fill its output room while the inflater still holds bytes.
        var text: [UInt8] = []
        var generator = SeededGenerator(seed: 5)
        for line in Self.text.split(separator: 0x0A).prefix(600) {
            text += line + [0x0A]
            text += [UInt8](repeating: 0x0A, count: Int.random(in: 0...400, using: &generator))
        }
        let file = gzip(text, level: 9)
        for cut in stride(from: 20, to: file.count, by: 7) {
            try expectSameResults(Array(file[..<cut]), "cut at \(cut)")
        }
    }

    @Test("a flipped byte anywhere: same lines kept, same offset and message")
    func flippedBytes() throws {
        for position in stride(from: 0, to: Self.file.count, by: 53) {
            for mask: UInt8 in [0x01, 0xA5] {
                var damaged = Self.file
                damaged[position] ^= mask
                try expectSameResults(damaged, "byte \(position) ^ \(mask)")
            }
        }
    }

    @Test("headers zlib refuses: unknown method, reserved flags, bad header CRC; trailing garbage")
    func refusedHeaders() throws {
        var method = Self.file
        method[2] = 7
        try expectSameResults(method, "method 7")
        for flag: UInt8 in [0x20, 0x40, 0x80] {
            var flags = Self.file
            flags[3] |= flag
            try expectSameResults(flags, "flag \(flag)")
        }
        // FHCRC set with a wrong header CRC-16 inserted after the 10-byte header.
        var headerCRC = Array(Self.file[..<10]) + [0x12, 0x34] + Array(Self.file[10...])
        headerCRC[3] |= 0x02
        try expectSameResults(headerCRC, "header CRC")
        try expectSameResults(Self.file + Array("garbage".utf8), "trailing garbage")
        try expectSameResults(Self.file + [0x1F, 0x8B, 0x08], "a third member cut in its header")
    }

    @Test("a member zlib refuses for an incomplete Huffman code: ISA-L's output past the refusal is taken back")
    func incompleteHuffmanCode() throws {
        let text = Array(Self.text[..<600])
        // A wrong CRC-32: ISA-L decodes the member in 16-byte reads, giving output, and fails at
        // its end; zlib refuses it at its block header. Found by the gzip fuzz target.
        var damaged = gzipWithIncompleteDistanceCode(text)
        damaged[damaged.count - 8] ^= 0xFF
        for readSize in [16, 4099] {
            try expectSameResults(damaged, readSize: readSize, "wrong CRC, \(readSize)-byte reads")
        }
        let zlib = try readFile(damaged, reader: InputReader(readSize: 16, inflater: .zlib))
        #expect(zlib.chunks.isEmpty)
        #expect(zlib.error?.message.hasPrefix("gzip data damaged (invalid distances set) at byte ") == true)

        // With its CRC right, ISA-L reads the member to its end while zlib refuses it: the one
        // difference GzipReader documents. ISA-L gives either zlib's result or the whole text.
        let whole = gzipWithIncompleteDistanceCode(text)
        let isal = try readFile(whole, reader: InputReader(readSize: 16, inflater: .isal))
        let refused = try readFile(whole, reader: InputReader(readSize: 16, inflater: .zlib))
        #expect(refused.error?.message == zlib.error?.message)
        if isal.error == nil {
            #expect(chunkLines(isal.chunks) == oracleLines(text))
        } else {
            #expect(isal.chunks.isEmpty && isal.error?.message == refused.error?.message)
        }
    }

    @Test("from a pipe, which cannot be read again, zlib inflates whatever was asked")
    func throughPipe() {
        var damaged = Self.file
        damaged[5000] ^= 0xFF
        let zlib = readThroughPipe(InputReader(readSize: 4096, inflater: .zlib), damaged, pieceSize: 4096)
        let isal = readThroughPipe(InputReader(readSize: 4096, inflater: .isal), damaged, pieceSize: 4096)
        #expect(isal.stats.inflater == .zlib)
        #expect(isal.chunks.map(\.bytes) == zlib.chunks.map(\.bytes))
        #expect(isal.error?.message == zlib.error?.message)
        #expect(isal.error?.message.hasPrefix("gzip data damaged (") == true)
    }
}

@Test("CI has ISA-L: set LOGSURGE_EXPECT_ISAL=1 to fail when it could not be loaded")
func isalPresentWhenExpected() {
    guard ProcessInfo.processInfo.environment["LOGSURGE_EXPECT_ISAL"] == "1" else { return }
    #expect(Inflater.isalUnavailableReason == nil, "ISA-L expected: \(Inflater.isalUnavailableReason ?? "")")
}

/// One gzip member whose single deflate block has an incomplete distance code (two codes of
/// length 2, never used): zlib refuses it ("invalid distances set"), ISA-L decodes it.
///
/// Literals and end-of-block only: symbols 0...253 have 8-bit codes, 254...257 9-bit ones.
func gzipWithIncompleteDistanceCode(_ text: [UInt8]) -> [UInt8] {
    var bits = BitWriter()
    bits.write(1, 1)  // final block
    bits.write(2, 2)  // dynamic Huffman codes
    let literalLengths = [Int](repeating: 8, count: 254) + [9, 9, 9, 9]
    let distanceLengths = [2, 2]
    bits.write(literalLengths.count - 257, 5)
    bits.write(distanceLengths.count - 1, 5)
    // The code-length code: length 8 → "0", 2 → "10", 9 → "11"; sent in RFC 1951's order.
    let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2]
    var lengthCodeLengths = [Int](repeating: 0, count: 19)
    (lengthCodeLengths[8], lengthCodeLengths[9], lengthCodeLengths[2]) = (1, 2, 2)
    bits.write(order.count - 4, 4)
    for symbol in order { bits.write(lengthCodeLengths[symbol], 3) }
    let lengthCodes = canonicalCodes(lengthCodeLengths)
    for length in literalLengths + distanceLengths { bits.writeCode(lengthCodes[length]) }
    let literalCodes = canonicalCodes(literalLengths)
    for byte in text { bits.writeCode(literalCodes[Int(byte)]) }
    bits.writeCode(literalCodes[256])
    var crc = crc32(0, nil, 0)
    crc = text.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, UInt32($0.count)) }
    func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + bits.bytes + littleEndian(UInt32(crc)) + littleEndian(UInt32(text.count))
}

/// Deflate's bit order: values least significant bit first, Huffman codes most significant first.
struct BitWriter {
    var bytes: [UInt8] = []
    private var count = 0

    mutating func write(_ value: Int, _ width: Int) {
        for bit in 0..<width {
            if count % 8 == 0 { bytes.append(0) }
            bytes[bytes.count - 1] |= UInt8((value >> bit) & 1) << (count % 8)
            count += 1
        }
    }

    mutating func writeCode(_ code: (code: Int, length: Int)) {
        for bit in (0..<code.length).reversed() { write((code.code >> bit) & 1, 1) }
    }
}

/// The canonical Huffman codes (RFC 1951, 3.2.2) of a list of code lengths, by symbol.
func canonicalCodes(_ lengths: [Int]) -> [(code: Int, length: Int)] {
    var next = [Int](repeating: 0, count: 17)
    var code = 0
    for length in 1...16 {
        code = (code + lengths.filter { $0 == length - 1 && $0 > 0 }.count) << 1
        next[length] = code
    }
    return lengths.map { length in
        guard length > 0 else { return (0, 0) }
        defer { next[length] += 1 }
        return (next[length], length)
    }
}
