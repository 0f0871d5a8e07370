import CLogSurgeSystem
import Dispatch
import Foundation
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import Synchronization
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect

/// Finding the `#Fields:` lines of W3C logs as the reader hands on chunks.
enum W3CColumns {
    /// The text after `#Fields:` of the last such line in `bytes` (whole lines), if any.
    static func lastFieldsLine(in bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { raw -> [UInt8]? in
            var found: [UInt8]?
            var start = 0
            while start < raw.count {
                // memchr: this runs over every chunk of a W3C input, in the reader.
                let base = raw.baseAddress!
                var lineEnd = raw.count
                if let newline = memchr(base + start, 0x0A, raw.count - start) {
                    lineEnd = UnsafeRawPointer(newline) - base
                }
                let line = ByteOrderMark.dropped(from: UnsafeRawBufferPointer(rebasing: raw[start..<lineEnd]))
                if line.first == 0x23, let columns = W3CParser.fieldsDirective(line) {
                    var text = Array(columns)
                    if text.last == 0x0D { text.removeLast() }
                    found = text
                }
                start = lineEnd + 1
            }
            return found
        }
    }
}

/// The first lines of an input, from which `--format auto` decides its format.
enum FormatSample {
    /// The sample: the first 200 lines or the first 64 KiB, whichever is shorter.
    static let lines = 200
    static let bytes = 64 << 10

    static func isComplete(_ chunks: [LineChunk]) -> Bool {
        var bytes = 0, lines = 0
        for chunk in chunks {
            bytes += chunk.bytes.count
            lines += chunk.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            if bytes >= Self.bytes || lines >= Self.lines { return true }
        }
        return false
    }

    /// The format to read an input with, from its first chunks: the detected one, or
    /// `combined` (its lines then counted as malformed) when no line had a known format.
    static func decide(_ chunks: [LineChunk]) -> (LineFormat, InputReport.FormatChoice) {
        detect(chunks).map { ($0, .detected) } ?? (LineFormat(.combined), .assumed)
    }

    /// The format of the first `lines` lines (at most `bytes` bytes) of `chunks`.
    static func detect(_ chunks: [LineChunk]) -> LineFormat? {
        sample(chunks).withUnsafeBytes { LineFormat.detect(chunk: $0, maxLines: lines) }
    }

    /// A named format the first lines of `chunks` parse under, when none of them parses as
    /// `format` (nil when some do, or none fits).
    static func suggestion(_ chunks: [LineChunk], readAs format: LineFormat) -> LineFormat? {
        sample(chunks).withUnsafeBytes { raw -> LineFormat? in
            let lines = LineFormat.lines(of: raw, maxLines: Self.lines)
            var parser = format.parser()
            for line in lines {
                if case .parsed = parser.parse(line) { return nil }
            }
            return LineFormat.detect(lines)
        }
    }

    private static func sample(_ chunks: [LineChunk]) -> [UInt8] {
        var sample: [UInt8] = []
        for chunk in chunks where sample.count < bytes { sample += chunk.bytes.prefix(bytes - sample.count) }
        return sample
    }

    /// Reading an input again from its start up to `skip` bytes (decompressed): its head (when
    /// wanted, for the format) and the last W3C `#Fields:` before `skip`.
    static func prelude(
        of source: InputSource, pinned: Int32?, reader: InputReader, upTo skip: Int64,
        wantsHead: Bool
    ) -> (head: [LineChunk]?, columns: [UInt8]?) {
        struct Enough: Error {}
        var head: [LineChunk] = []
        var columns: [UInt8]?
        var consumed: Int64 = 0
        var reader = reader
        reader.pool = nil
        _ = try? reader.read(source, pinned: pinned) { chunk in
            if wantsHead, !isComplete(head) { head.append(chunk) }
            if consumed < skip {
                // Whole lines before the resumption point; a chunk may reach past it.
                let before = Int(min(Int64(chunk.bytes.count), skip - consumed))
                let lineEnd = chunk.bytes[..<before].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
                if let last = W3CColumns.lastFieldsLine(in: Array(chunk.bytes[..<lineEnd])) { columns = last }
                consumed += Int64(chunk.bytes.count)
            }
            if consumed >= skip, !wantsHead || isComplete(head) { throw Enough() }
        }
        return (wantsHead ? head : nil, columns)
    }
}
