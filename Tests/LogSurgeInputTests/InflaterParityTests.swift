import Foundation
import LogSurgeInput
import LogSurgeTestSupport
import Testing

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
