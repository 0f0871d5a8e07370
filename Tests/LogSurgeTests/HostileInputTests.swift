import Foundation
import LogSurgePipelineTestSupport
import Testing
@testable import LogSurge
import LogSurgeInput
import LogSurgeParse
@testable import LogSurgeCore
@_spi(Pipeline) @testable import LogSurgeAggregate
@testable import LogSurgeDetect
@testable import LogSurgeReport

/// Hostile and broken input through the whole pipeline: whatever the bytes, every line is
/// counted once (`lines == parsed + sum(malformed)`), the buckets hold exactly the parsed lines,
/// and a damaged input is an error that keeps what came before the damage.
@Suite struct HostileTextTests {
    /// What one line must give.
    enum Expected {
        case parsed(minute: String, country: String, status: UInt16, bytes: UInt64)
        case malformed(MalformedReason)
    }

    /// A combined line with the given fields.
    static func line(
        _ time: String = "09/Nov/2016:02:31:07 +0000", client: String = "8.8.8.8",
        request: [UInt8] = Array("GET / HTTP/1.1".utf8), status: String = "200", size: String = "10",
        agent: [UInt8] = Array("Mozilla/5.0".utf8)
    ) -> [UInt8] {
        Array("\(client) - - [\(time)] \"".utf8) + request + Array("\" \(status) \(size) \"-\" \"".utf8) + agent + [0x22]
    }

    static func parsed(
        _ minute: String = "2016-11-09T02:31Z", _ country: String = "US", status: UInt16 = 200, bytes: UInt64 = 10
    ) -> Expected {
        .parsed(minute: minute, country: country, status: status, bytes: bytes)
    }

    /// A raw TLS ClientHello sent to the plain-HTTP port, as a server that logs raw bytes
    /// writes it: a record header, then bytes of every value (a newline among them cuts it in two).
    static let tlsHello: [UInt8] =
        [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
        + (0..<120).map { index -> UInt8 in
            let byte = UInt8((index * 73 + 41) & 0xFF)
            return byte == 0x0A || byte == 0x0D ? 0x00 : byte
        }

    static let lines: [(bytes: [UInt8], expected: Expected)] = [
        (line(), parsed()),
        // NUL bytes and invalid UTF-8 inside quoted fields are just bytes.
        (line(request: Array("GET /\u{0}\u{0} HTTP/1.1".utf8), agent: [0x78, 0x00, 0x01, 0x00]), parsed()),
        ([0x00, 0x00, 0x00], .malformed(.badClient)),
        (
            line(
                request: Array("GET /".utf8) + [0xFF, 0xFE, 0xC3, 0x28] + Array(" HTTP/1.1".utf8), agent: [0xED, 0xA0, 0x80, 0xC0, 0xAF]),
            parsed()
        ),
        ([0xC3, 0x28, 0xFF] + line(), .malformed(.badClient)),
        // Raw TLS: two lines of binary, and the same handshake as nginx escapes it in a request.
        (Array(tlsHello[..<60]), .malformed(.badClient)),
        ([0x00] + Array(tlsHello[60...]), .malformed(.badClient)),
        (
            line(request: Array(#"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"#.utf8), status: "400", size: "150"),
            parsed(status: 400, bytes: 150)
        ),
        // Out of order, years apart, offsets that cross a day and a year.
        (line("09/Nov/2016:02:30:59 +0000"), parsed("2016-11-09T02:30Z")),
        (line("01/Jan/1971:00:00:00 +0000"), parsed("1971-01-01T00:00Z")),
        (line("31/Dec/2999:23:59:60 +0000"), parsed("2999-12-31T23:59Z")),  // a leap second
        (line("01/Jan/2017:00:30:00 +1400"), parsed("2016-12-31T10:30Z")),
        (line("31/Dec/2016:23:30:00 -1200"), parsed("2017-01-01T11:30Z")),
        (line("09/Nov/2016:02:31:59 +0000"), parsed()),
        // Dates that do not exist, and times out of range.
        (line("29/Feb/2016:12:00:00 +0000"), parsed("2016-02-29T12:00Z")),
        (line("31/Feb/2016:12:00:00 +0000"), .malformed(.badTimestamp)),
        (line("29/Feb/2015:12:00:00 +0000"), .malformed(.badTimestamp)),
        (line("31/Apr/2016:12:00:00 +0000"), .malformed(.badTimestamp)),
        (line("00/Nov/2016:02:31:00 +0000"), .malformed(.badTimestamp)),
        (line("09/Nov/2016:24:00:00 +0000"), .malformed(.badTimestamp)),
        (line("09/Nov/2016:02:31:61 +0000"), .malformed(.badTimestamp)),
        (line("09/Nov/2016:02:31:00 +1500"), .malformed(.badTimestamp)),
        (line("09/Nov/9999:02:31:00 +0000"), .malformed(.badTimestamp)),  // beyond the minutes counted
        // Absurd statuses: three digits parse (counted in no class), anything else does not.
        (line(status: "999"), parsed(status: 999)),
        (line(status: "000"), parsed(status: 0)),
        (line(status: "600"), parsed(status: 600)),
        (line(status: "1234"), .malformed(.badStatus)),
        (line(status: "-12"), .malformed(.badStatus)),
        // Absurd sizes: the largest 64-bit size saturates its bucket's bytes; one more is malformed.
        (line("09/Nov/2016:03:00:00 +0000", size: "18446744073709551615"), parsed("2016-11-09T03:00Z", bytes: .max)),
        (line("09/Nov/2016:03:00:01 +0000", size: "7"), parsed("2016-11-09T03:00Z", bytes: 7)),
        (line(size: "18446744073709551616"), .malformed(.badSize)),
        (line(size: "0000000000000000000000042"), parsed(bytes: 42)),
        (line(size: "-"), parsed(bytes: 0)),
        (line(size: "-5"), .malformed(.badSize)),
        // A private address has no country; empty and blank lines are counted too.
        (line(client: "10.1.2.3"), parsed("2016-11-09T02:31Z", "--")),
        ([], .malformed(.empty)),
        (Array("   ".utf8), .malformed(.empty)),
        (line("09/Nov/2016:02:32:00 +0000"), parsed("2016-11-09T02:32Z")),
    ]

    /// The lines joined by LF, CR LF and lone CR in turn (LF around empty lines, which a lone
    /// CR before would turn into the CR of a CR LF), and no newline after the last.
    static let log: [UInt8] = {
        var log: [UInt8] = []
        for (index, entry) in lines.enumerated() {
            log += entry.bytes
            guard index < lines.count - 1 else { break }
            let nextIsEmpty = lines[index + 1].bytes.isEmpty
            switch index % 3 {
            case _ where entry.bytes.isEmpty || nextIsEmpty: log += [0x0A]
            case 1: log += [0x0D, 0x0A]
            case 2: log += [0x0D]
            default: log += [0x0A]
            }
        }
        return log
    }()

    /// The buckets the parsed lines make, as CSV rows (site `-`), sorted.
    static let expectedRows: [String] = {
        var counts: [String: BucketCounts] = [:]
        for case (_, .parsed(let minute, let country, let status, let bytes)) in lines {
            var bucket = counts["\(minute),-,\(country)", default: BucketCounts()]
            bucket.requests += 1
            switch status {
            case 200..<300: bucket.status2xx += 1
            case 300..<400: bucket.status3xx += 1
            case 400..<500: bucket.status4xx += 1
            case 500..<600: bucket.status5xx += 1
            default: break
            }
            bucket.bytes = bucket.bytes.addingReportingOverflow(bytes).overflow ? .max : bucket.bytes + bytes
            counts["\(minute),-,\(country)"] = bucket
        }
        return counts.map { key, c in "\(key),\(c.requests),\(c.status2xx),\(c.status3xx),\(c.status4xx),\(c.status5xx),\(c.bytes)" }
            .sorted()
    }()

    static func csvRows(_ analysis: Analysis) -> [String] {
        analysis.buckets.rows().map { row in
            let c = row.counts
            return
                "\(UTCMinute.format(row.minute)),\(row.site),\(row.country),\(c.requests),\(c.status2xx),\(c.status3xx),\(c.status4xx),\(c.status5xx),\(c.bytes)"
        }.sorted()
    }

    @Test(
        "NUL bytes, invalid UTF-8, raw TLS, lone CRs, far and missing dates, absurd statuses and sizes",
        arguments: [(1, 2 << 20, false), (2, 1, false), (3, 97, false), (2, 50, true)])
    func everyLineCountedOnce(threads: Int, chunkSize: Int, compressed: Bool) throws {
        let path = Support.temporaryDirectory().appendingPathComponent("hostile.log").path
        try Support.writeFile(path, Data(compressed ? Support.gzip(Self.log) : Self.log))
        let analysis = Support.analyze([path]) {
            $0.reading.threads = threads
            $0.reading.chunkSize = chunkSize
            $0.reading.minimumRangeSize = 1
            $0.lines.format = .fixed(.combined)
        }
        #expect(analysis.inputErrors.isEmpty)
        #expect(analysis.accounting.lines == UInt64(Self.lines.count))
        var malformed: [MalformedReason: UInt64] = [:]
        for case (_, .malformed(let reason)) in Self.lines { malformed[reason, default: 0] += 1 }
        #expect(analysis.accounting.malformed.filter { $0.value > 0 } == malformed)
        #expect(Self.csvRows(analysis) == Self.expectedRows)
        Support.expectInvariants(analysis)
    }

    @Test("escape sequences and controls in a log never reach the terminal raw")
    func reportEscapesWhatLinesCarry() throws {
        // vhost_combined, so the virtual host, the path and the agent all come from the line.
        let escapes = "\u{1B}[2J\u{1B}]0;owned\u{07}\u{1B}[31m\u{9B}6n\u{8}\u{7F}\u{202E}\u{61C}"
        var log = ""
        for second in 0..<3 {
            log +=
                "www.example.com:443 8.8.8.8 - - [09/Nov/2016:02:31:0\(second) +0000] \"GET /\(escapes) HTTP/1.1\" 200 1 \"-\" \"agent \(escapes)\"\n"
        }
        log += "www.\(escapes).example 8.8.8.8 - - [09/Nov/2016:02:31:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n"
        log += "\(escapes) 8.8.8.8 - - [09/Nov/2016:02:31:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n"
        log += "www.example.com 8.8.8.8 - - [31/Feb/2016:02:31:00 +0000] \"GET /\(escapes) HTTP/1.1\" 200 1 \"-\" \"\(escapes)\"\n"
        log += "www.example.com 8.8.8.8 - - [09/Nov/2016:02:31:00 +0000] \"GET /\(escapes)\" \(escapes) 1 \"-\" \"x\"\n"
        let directory = Support.temporaryDirectory()
        let path = directory.appendingPathComponent("access\u{1B}[8m.log").path
        try Support.writeFile(path, Data(log.utf8))
        let analysis = Support.analyze([path]) {
            $0.lines.sections = [.init(name: "s\u{1B}[1m", prefix: "/")]
        }
        #expect(analysis.accounting.parsed == 3)
        #expect(analysis.accounting.malformedTotal == 4)
        let report =
            TextReport.render(analysis, databaseDescription: "test\u{1B}[0m")
            + TextReport.renderEpisodes(analysis.alerts, configuration: DetectorConfiguration())
        #expect(report.contains("\\x1b[2J"))  // the samples are shown, escaped
        #expect(report.contains("access\\x1b[8m.log"))
        let raw = report.unicodeScalars.filter {
            ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) || $0.properties.generalCategory == .format
        }
        #expect(raw.isEmpty, "raw controls in the report: \(raw.map { String($0.value, radix: 16) })")
    }
}

@Suite struct HostileGzipTests {
    static let log = Support.generatedLog(minutes: 20, rate: 150, seed: 11)
    static let member = Support.gzip(log)

    /// What `InputReader` makes of `bytes`: the lines it hands on (the pipeline must count
    /// exactly these) and its error.
    static func readerView(_ path: String, inflater: Inflater) -> (lines: UInt64, error: InputError?) {
        var lines: UInt64 = 0
        let (_, error) = InputReader(inflater: inflater).read(.file(path)) { chunk in
            lines += UInt64(chunk.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } + chunk.overlongLines)
        }
        return (lines, error)
    }

    /// Damaged and odd gzip files, and the error each must give (nil: none).
    static let damaged: [(name: String, bytes: [UInt8], error: String?)] = {
        let file = member
        var cases: [(String, [UInt8], String?)] = []
        for cut in stride(from: 1, to: file.count, by: max(1, file.count / 23)) + [file.count - 4, file.count - 1] {
            cases.append(("cut at \(cut)", Array(file[..<cut]), cut < 2 ? nil : "gzip file truncated at byte \(cut)"))
        }
        var crc = file
        crc[crc.count - 7] ^= 0x20
        cases.append(("CRC-32 mismatch", crc, "CRC-32 mismatch"))
        var length = file
        length[length.count - 1] ^= 0x01
        cases.append(("length mismatch", length, "length mismatch"))
        cases.append(
            ("garbage after the last member", file + Array("garbage\n".utf8), "trailing data after gzip member at byte \(file.count)"))
        cases.append(
            (
                "bzip2 after a member", file + Array("BZh91AY&SY".utf8) + [UInt8](repeating: 0x41, count: 64),
                "trailing data after gzip member"
            ))
        cases.append(("zlib stream after a member", file + [0x78, 0x9C, 0x4B, 0x04, 0x00], "trailing data after gzip member"))
        cases.append(
            (
                "a member whose method is not deflate", file + [0x1F, 0x8B, 0x00, 0x00, 0, 0, 0, 0, 0, 3] + Array(log.prefix(200)),
                "unknown compression method"
            ))
        cases.append(("a member with reserved flags", file + [0x1F, 0x8B, 0x08, 0xE0, 0, 0, 0, 0, 0, 3] + file.dropFirst(10), "flags"))
        cases.append(("an empty file", [], nil))
        cases.append(("only the magic bytes", [0x1F, 0x8B], "gzip file truncated at byte 2"))
        cases.append(("an empty member", Support.gzip([]), nil))
        cases.append(("an empty member then lines", Support.gzip([]) + file, nil))
        return cases
    }()

    @Test(
        "damaged gzip keeps the lines before the damage, counted once, and names the damage",
        arguments: availableInflaters)
    func damagedFiles(inflater: Inflater) throws {
        let directory = Support.temporaryDirectory()
        for (index, sample) in Self.damaged.enumerated() {
            let path = directory.appendingPathComponent("sample\(index).log.gz").path
            try Support.writeFile(path, Data(sample.bytes))
            let expected = Self.readerView(path, inflater: inflater)
            let analysis = Support.analyze([path]) {
                $0.reading.inflater = inflater
                $0.reading.threads = 2
                $0.reading.chunkSize = 4096
            }
            let comment = Comment(rawValue: sample.name)
            if let message = sample.error {
                #expect(analysis.inputErrors.first?.message.contains(message) == true, comment)
                #expect(analysis.inputErrors.first?.offset != nil, comment)
                #expect(analysis.inputErrors.map(\.message) == [expected.error].compactMap { $0?.message }, comment)
            } else {
                // Read to its end: an error only when it had lines of which none parsed.
                Support.expectOnlyNothingParsedErrors(analysis, comment)
                #expect(expected.error == nil, comment)
            }
            #expect(analysis.accounting.lines == expected.lines, comment)
            #expect(analysis.inputs.first?.stats != nil, comment)  // read, even when empty
            Support.expectInvariants(analysis, comment)
        }
    }

    @Test(
        "a gzip bomb of one endless line inflates in bounded chunks and counts one line too long",
        arguments: availableInflaters)
    func bombOfOneLine(inflater: Inflater) throws {
        // 16 members of 16 MiB of zero bytes each: 256 MiB without a newline, about 1000:1.
        let member = Support.gzip([UInt8](repeating: 0, count: 16 << 20), level: 9)
        let bomb = (0..<16).flatMap { _ in member }
        #expect(bomb.count < (256 << 20) / 900)
        let path = Support.temporaryDirectory().appendingPathComponent("bomb.gz").path
        let tail = Array("\n8.8.8.8 - - [09/Nov/2016:02:31:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n".utf8)
        try Support.writeFile(path, Data(bomb + Support.gzip(tail)))
        var largest = 0
        var overlong = 0
        let (stats, error) = InputReader(inflater: inflater).read(.file(path)) { chunk in
            largest = max(largest, chunk.bytes.count)
            overlong += chunk.overlongLines
        }
        #expect(error == nil)
        #expect(stats.decompressedBytes == Int64((256 << 20) + tail.count))
        #expect(overlong == 1)
        #expect(largest < 1000)  // only the line after the bomb was ever handed on
        let analysis = Support.analyze([path]) { $0.reading.inflater = inflater }
        #expect(analysis.accounting.lines == 2)
        #expect(analysis.accounting.malformed[.tooLong] == 1)
        #expect(analysis.accounting.parsed == 1)
        Support.expectInvariants(analysis)
    }
}

@Suite struct HostileFileTests {
    @Test("unreadable inputs are errors in their place; everything else is read and counted")
    func unreadable() throws {
        let directory = Support.temporaryDirectory()
        let good = directory.appendingPathComponent("good.log").path
        try Support.writeFile(good, Data(Support.generatedLog(minutes: 5, rate: 60, seed: 4)))
        let socketPath = directory.appendingPathComponent("socket.log").path
        let fd = Support.makeSocket(socketPath)
        defer { close(fd) }
        var paths = [
            socketPath, good, directory.appendingPathComponent("missing.log").path,
            good + "/not-a-directory.log",
        ]
        if FileManager.default.fileExists(atPath: "/proc/self/mem") {
            paths.append("/proc/self/mem")  // reading its offset 0 fails: an I/O error
        }
        let locked = directory.appendingPathComponent("locked.log").path
        if geteuid() != 0 {
            try Support.writeFile(locked, Data("x\n".utf8))
            chmod(locked, 0)
            paths.append(locked)
        }
        let analysis = Support.analyze(paths)
        let errors = Dictionary(analysis.inputErrors.map { ($0.path, $0.message) }, uniquingKeysWith: { a, _ in a })
        #expect(errors[socketPath] == "cannot open: No such device or address")
        #expect(errors[paths[2]] == "No such file or directory")
        #expect(errors[paths[3]] == "Not a directory")
        if paths.contains("/proc/self/mem") { #expect(errors["/proc/self/mem"]?.hasPrefix("read error:") == true) }
        if paths.contains(locked) { #expect(errors[locked] == "cannot open: Permission denied") }
        #expect(analysis.inputErrors.count == paths.count - 1)
        #expect(analysis.inputs[1].error == nil)
        #expect(analysis.accounting.lines == analysis.inputs[1].lines)
        #expect(analysis.accounting.parsed > 100)
        Support.expectInvariants(analysis)
    }

    @Test(
        "a file cut short while it is read: what was read is counted once, whenever the cut comes",
        arguments: [0, 1, 3, 10])
    func shrinkingWhileRead(delayMilliseconds: Int) throws {
        let log = Support.generatedLog(minutes: 60, rate: 400, seed: 12)
        let lines = UInt64(log.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) })
        let directory = Support.temporaryDirectory()
        let plain = directory.appendingPathComponent("live.log").path
        let compressed = directory.appendingPathComponent("live.log.gz").path
        try Support.writeFile(plain, Data(log))
        let gzipped = Support.gzip(log)
        try Support.writeFile(compressed, Data(gzipped))
        let cutter = Thread {
            usleep(useconds_t(delayMilliseconds * 1000))
            _ = truncate(plain, off_t(log.count / 3))
            _ = truncate(compressed, off_t(gzipped.count / 3))
        }
        cutter.start()
        let analysis = Support.analyze([plain, compressed]) {
            $0.reading.chunkSize = 16_384; $0.reading.minimumRangeSize = 16_384
        }
        while !cutter.isFinished { usleep(1000) }
        for input in analysis.inputs {
            #expect(input.lines <= lines)
            #expect((input.stats?.bytesRead ?? 0) <= Int64(input.name == plain ? log.count : gzipped.count))
        }
        // A plain file simply ends sooner; a gzip file cut short is truncated, unless read before the cut.
        #expect(analysis.inputErrors.allSatisfy { $0.path == compressed && $0.message.hasPrefix("gzip file truncated") })
        Support.expectInvariants(analysis)
    }
}

@Suite struct PipelineThreadTests {
    @Test("a run needs no thread of Dispatch's global pool, so a caller holding them all does not stall it")
    func runsBesideABusyGlobalPool() throws {
        let path = Support.temporaryDirectory().appendingPathComponent("small.log").path
        try Support.writeFile(path, Data(Support.generatedLog(minutes: 3, rate: 50, seed: 1)))
        // Every thread of the global pool busy (as tests and tasks of Swift concurrency keep
        // them): a block the run queued there would wait a second or more for a new thread.
        let width = 2 * ProcessInfo.processInfo.activeProcessorCount
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let blockers = DispatchGroup()
        for _ in 0..<width {
            DispatchQueue.global(qos: .userInitiated).async(group: blockers) {
                started.signal()
                release.wait()
            }
        }
        for _ in 0..<ProcessInfo.processInfo.activeProcessorCount { started.wait() }
        let start = Date()
        let analysis = Support.analyze([path])
        let elapsed = Date().timeIntervalSince(start)
        for _ in 0..<width { release.signal() }
        blockers.wait()
        #expect(analysis.accounting.lines > 50)
        // About 0.05 s here; 4 s when the country tables and the detectors waited for the pool.
        #expect(elapsed < 2.5)
    }
}

/// zlib, and ISA-L where it can be loaded.
let availableInflaters: [Inflater] = Inflater.isalUnavailableReason == nil ? [.zlib, .isal] : [.zlib]
