import CZlib
import Foundation
import LogSurgeTestSupport
import LogSurgeInput
import LogSurgeCore

enum Fixtures {
    /// Random text of `lineCount` lines with lengths in `lengths`, some CRLF, printable bytes.
    static func text(lineCount: Int, lengths: ClosedRange<Int>, seed: UInt64, finalNewline: Bool = true) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        for index in 0..<lineCount {
            let length = Int.random(in: lengths, using: &generator)
            for _ in 0..<length { bytes.append(UInt8.random(in: 0x20...0x7E, using: &generator)) }
            if index % 5 == 3 { bytes.append(0x0D) }
            if index < lineCount - 1 || finalNewline { bytes.append(0x0A) }
        }
        return bytes
    }

    /// Realistic Combined-format lines, distinct per index.
    static func accessLog(lines: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var text = ""
        for index in 0..<lines {
            let ip =
                "\(Int.random(in: 1...223, using: &generator)).\(Int.random(in: 0...255, using: &generator)).\(Int.random(in: 0...255, using: &generator)).\(index % 250 + 1)"
            let second = index % 60
            text +=
                "\(ip) - - [09/Nov/2016:02:\(String(format: "%02d", index / 60 % 60)):\(String(format: "%02d", second)) +0000] \"GET /page/\(Int.random(in: 0...99999, using: &generator)) HTTP/1.1\" 200 \(Int.random(in: 0...50000, using: &generator)) \"-\" \"Mozilla/5.0\"\n"
        }
        return Array(text.utf8)
    }
}

/// The oracle: the lines of `bytes`, as `split(separator: "\n", omittingEmptySubsequences: false)`
/// gives them, without the empty piece after a final newline.
func oracleLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
    if bytes.isEmpty || bytes.last == 0x0A { lines.removeLast() }
    return lines
}

/// The lines of concatenated chunks (each chunk ends in "\n").
func chunkLines(_ chunks: [LineChunk]) -> [ArraySlice<UInt8>] {
    oracleLines(chunks.flatMap(\.bytes))
}

/// One gzip member of `bytes`, made by zlib's deflate (windowBits 15 + 16).
func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    precondition(
        deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    )
    defer { deflateEnd(&stream) }
    var input = bytes
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
    let written = input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = UInt32(outBuffer.count)
            let status = deflate(&stream, Z_FINISH)
            precondition(status == Z_STREAM_END)
            return outBuffer.count - Int(stream.avail_out)
        }
    }
    return Array(output[..<written])
}

/// A temporary directory removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/logsurge-input-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }
    func file(_ name: String) -> String { path + "/" + name }
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
    static func write(at path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Reads `source` with `reader`, collecting the chunks.
func readAll(_ reader: InputReader, _ source: InputSource) -> (chunks: [LineChunk], stats: InputStats, error: InputError?) {
    var chunks: [LineChunk] = []
    let (stats, error) = reader.read(source) { chunks.append($0) }
    return (chunks, stats, error)
}

/// Writes `bytes` into a pipe from another thread in pieces of `pieceSize`, reads the other end with `reader`.
func readThroughPipe(
    _ reader: InputReader, _ bytes: [UInt8], pieceSize: Int
) -> (chunks: [LineChunk], stats: InputStats, error: InputError?) {
    var ends: [Int32] = [0, 0]
    precondition(pipe(&ends) == 0)
    let (readEnd, writeEnd) = (ends[0], ends[1])
    let writer = Thread {
        var offset = 0
        while offset < bytes.count {
            let count = min(pieceSize, bytes.count - offset)
            let written = bytes.withUnsafeBytes { write(writeEnd, $0.baseAddress! + offset, count) }
            if written < 0 { if errno == EINTR { continue } else { break } }
            offset += written
        }
        close(writeEnd)
    }
    writer.start()
    var chunks: [LineChunk] = []
    let (stats, error) = reader.read(fileDescriptor: readEnd, name: "-") { chunks.append($0) }
    close(readEnd)
    return (chunks, stats, error)
}

/// zlib, and ISA-L where it can be loaded (CI installs it; see `.ci/run`).
let availableInflaters: [Inflater] = Inflater.isalUnavailableReason == nil ? [.zlib, .isal] : [.zlib]
