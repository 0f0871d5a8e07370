@testable import LogSurgeInput
import Testing

/// `LineChunker.retract`: the gzip reader takes back output ISA-L gave from data zlib refuses.
@Suite("LineChunker.retract")
struct LineChunkerRetractTests {
    /// Feeds `pieces` to a chunker, takes back `count` bytes, finishes: whether it took them
    /// back, and the bytes and overlong lines of the chunks.
    func run(_ pieces: [String], retracting count: Int) -> (taken: Bool, bytes: [UInt8], overlong: Int) {
        var chunker = LineChunker(targetSize: 64, maxLineLength: 32)
        var emitted: [LineChunk] = []
        for piece in pieces {
            Array(piece.utf8).withUnsafeBytes { chunker.append($0) { emitted.append($0) } }
        }
        let taken = chunker.retract(count)
        chunker.finish { emitted.append($0) }
        return (taken, emitted.flatMap(\.bytes), emitted.reduce(0) { $0 + $1.overlongLines })
    }

    @Test("bytes only appended since anything else happened are taken back as if never written")
    func appended() {
        let pieces = ["one\ntwo", "\nthree\n", "\nfour\r\nfi", "ve"]
        let text = Array(pieces.joined().utf8)
        for count in 0...text.count {
            let (taken, bytes, overlong) = run(pieces, retracting: count)
            let kept = run([String(decoding: text.dropLast(count), as: UTF8.self)], retracting: 0)
            #expect(taken)
            #expect(bytes == kept.bytes && overlong == 0, "retracting \(count)")
        }
    }

    @Test("bytes already emitted in a chunk, or in a dropped overlong line, are not taken back")
    func settled() {
        let lines = String(repeating: "0123456789\n", count: 7)  // 77 bytes: a chunk is emitted
        #expect(!run([lines, "tail"], retracting: 10).taken)
        let after = run([lines, "tail"], retracting: 4)
        #expect(after.taken && after.bytes == Array(lines.utf8))
        let overlong = "short\n" + String(repeating: "x", count: 40) + "\nend"
        #expect(!run([overlong], retracting: 10).taken)
        #expect(run([overlong, "more"], retracting: 4).taken)
        #expect(!run(["abc"], retracting: 4).taken)
    }
}
