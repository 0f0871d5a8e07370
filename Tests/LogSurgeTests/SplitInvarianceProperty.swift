import Foundation
import LogSurgePipelineTestSupport
import PropertyBased
import Testing
@testable import LogSurge
import LogSurgeParse
@testable import LogSurgeCore

/// A property over random inputs: the same lines cut into other chunks, spread over other
/// files (plain or gzip, read in any order) and parsed by another number of threads give the
/// same buckets and the same accounting.
@Suite struct SplitInvarianceProperty {
    /// Lines longer than this are `line_too_long` (small, so that some random lines are).
    static let maxLineLength = 300

    /// A random log of `count` lines: mostly valid lines of a few minutes (one of them years
    /// away), sites and countries, and malformed ones of every kind; LF, CR LF and lone CR
    /// line ends, and maybe no newline after the last line.
    static func randomLog(seed: UInt64, count: Int, vhost: Bool) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        func pick<T>(_ choices: [T]) -> T { choices[Int(random.next() % UInt64(choices.count))] }
        // Minutes close together (the detectors' work grows with the span they cover), one
        // years away, and offsets that move a line an hour.
        let minutes = [
            "09/Nov/2016:02:31", "09/Nov/2016:02:32", "09/Nov/2016:02:30", "09/Nov/2016:03:29",
            "09/Nov/2016:03:00", "01/Jan/2031:12:00",
        ]
        let clients =
            ["8.8.8.8", "81.2.69.160", "2001:4860:4860::8888", "10.0.0.1", "::ffff:1.1.1.1"]
            + (0..<12).map { _ in "\(random.next() % 223 + 1).\(random.next() % 256).\(random.next() % 256).\(random.next() % 256)" }
        let hosts = ["www.example.com", "www.example.com:443", "api.example.org", "[2001:db8::1]:8443"]
        var log: [UInt8] = []
        for _ in 0..<count {
            var line: [UInt8]
            let time = "\(pick(minutes)):\(String(format: "%02d", Int(random.next() % 60))) \(pick(["+0000", "+0000", "-0100", "+0030"]))"
            let status = pick(["200", "200", "304", "404", "500", "503", "999"])
            let valid =
                "\(pick(clients)) - - [\(time)] \"GET /\(random.next() % 1000) HTTP/1.1\" \(status) \(pick(["-", "0", "512", "18446744073709551615"])) \"-\" \"agent\""
            switch random.next() % 20 {
            case 0: line = []  // empty
            case 1: line = Array("PHP Warning:  something else entirely".utf8)  // not a log line
            case 2: line = Array(valid.replacingOccurrences(of: time.prefix(11), with: "31/Feb/2016").utf8)
            case 3: line = Array(valid.replacingOccurrences(of: "\" \(status) ", with: "\" 2x0 ").utf8)
            case 4: line = [0x16, 0x03, 0x01, 0x00, 0xFF, 0xC3, 0x28, 0x00, 0x1B]  // raw bytes
            case 5: line = [UInt8](repeating: 0x41, count: maxLineLength + 1 + Int(random.next() % 200))
            case 6: line = Array(valid.utf8) + [0x00, 0xFF]  // junk after the fields
            default: line = Array(valid.utf8)
            }
            if vhost && !(line.first.map { $0 < 0x20 || $0 == 0x41 } ?? true) { line = Array("\(pick(hosts)) ".utf8) + line }
            log += line
            switch random.next() % 10 {
            // A lone CR ends a line too; before an empty line it would make a CR LF instead.
            case 0 where !line.isEmpty: log += [0x0D]
            case 1, 2, 3: log += [0x0D, 0x0A]
            default: log += [0x0A]
            }
        }
        if random.next() % 2 == 0, log.count >= 2, log.last == 0x0A, log[log.count - 2] != 0x0A { log.removeLast() }
        return log
    }

    /// `log` cut after newlines into `count` files (some maybe empty), the newline that ends
    /// each file dropped when a line stands before it (the reader adds it back).
    static func split(_ log: [UInt8], into count: Int, seed: UInt64) -> [[UInt8]] {
        var random = SeededGenerator(seed: seed ^ 0x5EED)
        let newlines = log.indices.filter { log[$0] == 0x0A }
        let cuts =
            ((0..<(count - 1)).map { _ in newlines.isEmpty ? 0 : newlines[Int(random.next() % UInt64(newlines.count))] + 1 } + [
                0, log.count,
            ]).sorted()
        return (0..<count).map { index in
            var part = Array(log[cuts[index]..<cuts[index + 1]])
            if random.next() % 2 == 0, part.count >= 2, part.last == 0x0A, part[part.count - 2] != 0x0A { part.removeLast() }
            return part
        }
    }

    static func run(_ paths: [String], threads: Int, chunkSize: Int, minimumRangeSize: Int, vhost: Bool) -> Analysis {
        Support.analyze(paths) {
            $0.reading.threads = threads
            $0.reading.chunkSize = chunkSize
            $0.reading.minimumRangeSize = minimumRangeSize
            $0.lines.maxLineLength = maxLineLength
            $0.lines.format = .fixed(vhost ? .vhostCombined : .combined)
        }
    }

    @Test("the same lines in other chunks, files and thread counts give the same buckets and accounting")
    func splittingNeverChangesTheBuckets() async {
        let layouts = zip(
            Gen.uint64(), Gen.int(in: 0...300), Gen.bool, Gen.int(in: 1...5),
            Gen.int(in: 0...31), Gen.int(in: 1...4), Gen.int(in: 1...70_000), Gen.int(in: 1...8_192))
        await propertyCheck(count: 40, input: layouts) {
            seed, lineCount, vhost, fileCount, gzipMask, threads, chunkSize, minimumRangeSize in
            let log = Self.randomLog(seed: seed, count: lineCount, vhost: vhost)
            let directory = Support.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            // The reference: one plain file, one thread, the default chunks.
            let whole = directory.appendingPathComponent("whole.log").path
            try Support.writeFile(whole, Data(log))
            let reference = Self.run([whole], threads: 1, chunkSize: 2 << 20, minimumRangeSize: 64 << 10, vhost: vhost)
            Support.expectInvariants(reference)
            Support.expectOnlyNothingParsedErrors(reference)

            // The same file cut into other chunks and ranges, by other threads.
            let rechunked = Self.run([whole], threads: threads, chunkSize: chunkSize, minimumRangeSize: minimumRangeSize, vhost: vhost)
            // The same lines in a directory of rotated files, some of them gzip.
            let rotated = directory.appendingPathComponent("rotated")
            try FileManager.default.createDirectory(at: rotated, withIntermediateDirectories: false)
            for (index, part) in Self.split(log, into: fileCount, seed: seed).enumerated() {
                let compressed = gzipMask >> index & 1 == 1
                let name = "access.log" + (index == 0 ? "" : ".\(index)") + (compressed ? ".gz" : "")
                try Support.writeFile(rotated.appendingPathComponent(name).path, Data(compressed ? Support.gzip(part) : part))
            }
            let spread = Self.run([rotated.path], threads: threads, chunkSize: chunkSize, minimumRangeSize: minimumRangeSize, vhost: vhost)

            for analysis in [rechunked, spread] {
                #expect(analysis.buckets.rows() == reference.buckets.rows())
                #expect(analysis.accounting.lines == reference.accounting.lines)
                #expect(analysis.accounting.parsed == reference.accounting.parsed)
                #expect(analysis.accounting.malformed.filter { $0.value > 0 } == reference.accounting.malformed.filter { $0.value > 0 })
                // A file whose every line is malformed is an input error, and nothing else is.
                Support.expectOnlyNothingParsedErrors(analysis)
                Support.expectInvariants(analysis)
            }
            #expect(spread.inputs.count == fileCount)
        }
    }
}
