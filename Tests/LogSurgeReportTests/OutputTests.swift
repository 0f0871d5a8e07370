import Foundation
import LogSurgePipelineTestSupport
import Testing
import LogSurge
import LogSurgeCore
@_spi(Pipeline) @testable import LogSurgeAggregate
import LogSurgeInput
import LogSurgeReport

@Suite struct EscapingTests {
    @Test(arguments: [
        ("plain text", "plain text"),
        ("\u{1B}[31mred\u{1B}[0m", "\\x1b[31mred\\x1b[0m"),
        ("tab\there", "tab\\x09here"),
        ("back\\slash", "back\\\\slash"),
        ("caf\u{E9} \u{65E5}\u{672C}", "caf\u{E9} \u{65E5}\u{672C}"),
        ("bidi\u{202E}txt", "bidi\\xe2\\x80\\xaetxt"),  // right-to-left override: escaped byte by byte
        ("c1\u{9B}31m", "c1\\xc2\\x9b31m"),  // C1 CSI
        ("del\u{7F}", "del\\x7f"),
        ("alm\u{61C}txt", "alm\\xd8\\x9ctxt"),  // Arabic letter mark: a bidi control too
        ("zero\u{200B}width", "zero\\xe2\\x80\\x8bwidth"),  // invisible format characters
        ("tag\u{E0041}", "tag\\xf3\\xa0\\x81\\x81"),
        ("soft\u{AD}hyphen", "soft\\xc2\\xadhyphen"),
    ])
    func terminalEscapesControlsAndKeepsPrintableText(input: String, expected: String) {
        #expect(Escaping.terminal(input) == expected)
    }

    @Test func terminalEscapesInvalidUTF8ByteByByte() {
        #expect(Escaping.terminal([0x41, 0xFF, 0xC3, 0x28, 0x00, 0x42]) == "A\\xff\\xc3(\\x00B")
    }

    @Test func csvQuotesOnlyWhenNeeded() {
        #expect(Escaping.csv("www.example.com") == "www.example.com")
        #expect(Escaping.csv("a,b") == "\"a,b\"")
        #expect(Escaping.csv("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(Escaping.csv("line\nbreak") == "\"line\nbreak\"")
    }

    @Test("CSV cells from logs that a spreadsheet would run as formulas start with '; a lone - stays")
    func csvNeutralisesFormulas() {
        #expect(Escaping.csv("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0")
        #expect(Escaping.csv("+1") == "'+1")
        #expect(Escaping.csv("-2+3") == "'-2+3")
        #expect(Escaping.csv("@SUM(A1)") == "'@SUM(A1)")
        #expect(Escaping.csv("\tx") == "'\tx")
        #expect(Escaping.csv("=a,b") == "\"'=a,b\"")
        #expect(Escaping.csv("-") == "-")
        // One to one: a leading ' is doubled, and the reader takes exactly one off.
        #expect(Escaping.csv("'=x") == "''=x")
        #expect(Escaping.csv("'plain") == "''plain")
        for text in ["=x", "'=x", "''=x", "-", "-x", "'", "plain", "'plain", "@a"] {
            #expect(Escaping.csvUnneutralised(Escaping.csv(text)) == text, "\(text)")
        }
        #expect(Escaping.csv("www-1.example") == "www-1.example")
    }

    @Test("An output's temporary file: no link planted at a guessable name is followed, the replaced file's mode stays")
    func outputSinkTemporaryFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logsurge-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let victim = directory.appendingPathComponent("victim").path
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: victim))
        let path = directory.appendingPathComponent("report.json").path
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o640)
        try FileManager.default.createSymbolicLink(atPath: "\(path).tmp-logsurge-\(getpid())", withDestinationPath: victim)
        let sink = try OutputSink(path: path)
        try sink.write("new\n")
        try sink.close()
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o640)
        // A new file gets the mode open(2) gives: 0666 less the umask.
        let fresh = directory.appendingPathComponent("fresh.csv").path
        let mask = umask(0o022)
        umask(mask)
        let other = try OutputSink(path: fresh)
        try other.close()
        #expect(stat(fresh, &status) == 0 && status.st_mode & 0o777 == 0o666 & ~mask)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
                == ["fresh.csv", "report.json", "report.json.tmp-logsurge-\(getpid())", "victim"])
    }

    @Test func jsonEscapesQuotesBackslashesAndControls() {
        #expect(Escaping.json("a\"b\\c\nd\u{01}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
    }
}

@Suite struct AggregateTests {
    @Test func bucketTableCountsAndDrainsManyKeys() {
        var tally = BucketTable(initialCapacity: 4)
        for round in 0..<2 {
            var expected: [UInt64: UInt64] = [:]
            for i in 0..<5000 {
                let key = PackedKey(minute: Int32(i % 700) - 300, site: UInt16(i % 3), country: .init(rawValue: UInt16(i % 11)))
                tally.add(key, status: UInt16(200 + (i % 4) * 100), bytes: UInt64(i))
                expected[key.rawValue, default: 0] += 1
            }
            let drained = tally.drain()
            #expect(drained.count == expected.count, "round \(round)")
            #expect(drained.allSatisfy { expected[$0.key.rawValue] == UInt64($0.counts.requests) })
            #expect(tally.isEmpty)
        }
    }

    @Test func bytesSaturateInsteadOfWrapping() {
        var table = BucketTable()
        let key = PackedKey(minute: 1, site: 0, country: .unknown)
        table.add(key, status: 200, bytes: .max)
        table.add(key, status: 200, bytes: 5)
        #expect(table.counts(for: key)?.bytes == .max)
        var totals = BucketCounts()
        totals.merge(table.counts(for: key)!)
        totals.merge(table.counts(for: key)!)
        #expect(totals.bytes == .max)
        #expect(totals.requests == 4)
    }

    @Test func packedKeyRoundTripsNegativeMinutes() {
        let key = PackedKey(minute: -5, site: 65_000, country: .init(rawValue: 0x5553))
        #expect(key.minute == -5)
        #expect(key.site == 65_000)
        #expect(key.country.rawValue == 0x5553)
    }

    @Test func siteTableSectionsAndDefaultSite() {
        var table = SiteTable(defaultSite: "-", sectionNames: ["imm"])
        let a = "www.example".utf8.withContiguousStorageIfAvailable { table.index(host: UnsafeRawBufferPointer($0), section: 0) }!
        let b = "www.example".utf8.withContiguousStorageIfAvailable { table.index(host: UnsafeRawBufferPointer($0), section: 1) }!
        let c = table.index(host: nil, section: 0)
        let d = table.index(host: nil, section: 1)
        let e = "www.example".utf8.withContiguousStorageIfAvailable { table.index(host: UnsafeRawBufferPointer($0), section: 0) }!
        #expect(table.names == ["www.example", "www.example/imm", "-", "imm"])
        #expect([a, b, c, d] == [0, 1, 2, 3])
        #expect(e == a)
    }

    @Test func siteTableAnswersNilWhenFullAndStartsAfreshAfterReset() {
        var table = SiteTable(defaultSite: "-", sectionNames: [], capacity: 3)
        let indices = (0..<4).map { n in Array("h\(n)".utf8).withUnsafeBytes { table.index(host: $0, section: 0) } }
        #expect(indices == [0, 1, 2, nil])
        #expect(table.names == ["h0", "h1", "h2"])
        table.reset()
        #expect(Array("h3".utf8).withUnsafeBytes { table.index(host: $0, section: 0) } == 0)
        #expect(table.names == ["h3"])
    }

    @Test(
        "beyond the site limit the quietest sites fold into ~other, whenever the busy ones came; every request stays",
        arguments: [false, true])
    func minuteBucketsFoldTheQuietestSites(spilling: Bool) {
        var buckets = MinuteBuckets(spillThreshold: spilling ? 7 : MinuteBuckets.defaultSpillThreshold)
        buckets.siteLimit = 10
        func add(_ site: String, _ requests: UInt64, minute: Int32) {
            buckets.add(
                minute: minute, site: site, country: .unknown,
                counts: .init(requests: requests, status2xx: requests, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 0))
        }
        // Quiet sites first (a scanner), the busy ones among and after them.
        add("busy-early", 50, minute: 0)
        for index in 0..<30 { add("quiet\(index)", 1, minute: Int32(index)) }
        add("busy-late", 40, minute: 31)
        for index in 30..<40 { add("quiet\(index)", 1, minute: Int32(index)) }
        add("busy-late", 40, minute: 41)
        let totals = buckets.requestsBySite()
        #expect(totals["busy-early"]?.requests == 50)
        #expect(totals["busy-late"]?.requests == 80)
        #expect(totals.values.reduce(0) { $0 + $1.requests } == 50 + 80 + 40, "every request kept")
        #expect(buckets.siteNames.count <= 10)
        #expect(buckets.sitesFolded >= 30)
        #expect((totals[MinuteBuckets.overflowSite]?.requests ?? 0) + UInt64(totals.keys.filter { $0.hasPrefix("quiet") }.count) == 40)
        // Rows stay sorted and summed as before the folds.
        let rows = buckets.rows()
        #expect(rows.map(\.minute) == rows.map(\.minute).sorted())
        #expect(rows.reduce(0) { $0 + $1.counts.requests } == 170)
    }

    @Test func minuteBucketsSortSitesByNameAndCountriesUnknownFirst() {
        var buckets = MinuteBuckets()
        buckets.add(
            minute: 10, site: "b", country: .init(rawValue: 0x5553),
            counts: .init(requests: 1, status2xx: 1, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 5))
        buckets.add(
            minute: 10, site: "a", country: .init(rawValue: 0x5553),
            counts: .init(requests: 2, status2xx: 0, status3xx: 0, status4xx: 0, status5xx: 2, bytes: 0))
        buckets.add(
            minute: 10, site: "a", country: .unknown,
            counts: .init(requests: 1, status2xx: 0, status3xx: 0, status4xx: 1, status5xx: 0, bytes: 0))
        buckets.add(
            minute: -1, site: "z", country: .unknown,
            counts: .init(requests: 1, status2xx: 0, status3xx: 0, status4xx: 1, status5xx: 0, bytes: 0))
        buckets.add(
            minute: 10, site: "a", country: .unknown,
            counts: .init(requests: 3, status2xx: 3, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 9))
        let rows = buckets.rows()
        #expect(rows.map { "\($0.minute) \($0.site) \($0.country)" } == ["-1 z --", "10 a --", "10 a US", "10 b US"])
        #expect(rows[1].counts == .init(requests: 4, status2xx: 3, status3xx: 0, status4xx: 1, status5xx: 0, bytes: 9))
    }
}

@Suite struct OutputSinkTests {
    @Test func regularFileIsReplacedWholeAndNoTemporaryIsLeft() throws {
        let directory = Support.temporaryDirectory()
        let path = directory.appendingPathComponent("out.csv").path
        try Support.writeFile(path, Data("old content that is longer\n".utf8))
        let sink = try OutputSink(path: path)
        try sink.write("new\n")
        // Until close, readers still see the old file.
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old content that is longer\n")
        try sink.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.csv"])
    }

    @Test func symbolicLinkIsWrittenThroughNotReplaced() throws {
        let directory = Support.temporaryDirectory()
        let target = directory.appendingPathComponent("target.csv").path
        let link = directory.appendingPathComponent("link.csv").path
        try Support.writeFile(target, Data())
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let sink = try OutputSink(path: link)
        try sink.write("through\n")
        try sink.close()
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "through\n")
    }

    @Test func fifoIsWrittenThroughNotReplaced() throws {
        let directory = Support.temporaryDirectory()
        let fifo = directory.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let received = ReceivedBytes()
        let reader = Thread { received.data = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data() }
        reader.start()
        let sink = try OutputSink(path: fifo)  // blocks until the reader opens its end
        try sink.write("via fifo\n")
        try sink.close()
        while !reader.isFinished { usleep(1000) }
        #expect(received.data == Data("via fifo\n".utf8))
        var status = stat()
        #expect(lstat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
    }

    private final class ReceivedBytes: @unchecked Sendable { var data = Data() }
}

@Suite("bucket CSV of a run's buckets") struct BucketCSVTests {
    /// The contract's CSV of `rows`, made the plain way: one interpolated string a row.
    static func plainCSV(_ rows: [BucketRow]) -> String {
        var text = BucketFile.columns.joined(separator: ",") + "\n"
        for row in rows {
            let c = row.counts
            text +=
                "\(UTCMinute.format(row.minute)),\(Escaping.csv(row.site)),\(row.country),\(c.requests),"
                + "\(c.status2xx),\(c.status3xx),\(c.status4xx),\(c.status5xx),\(c.bytes),\(row.clients.distinct)\n"
        }
        return text
    }

    static func csv(_ write: (OutputSink) throws -> Void) throws -> String {
        let path = Support.temporaryDirectory().appendingPathComponent("b.csv").path
        let sink = try OutputSink(path: path)
        try write(sink)
        try sink.close()
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    @Test func spilledRunsWithSharedKeysLongSitesAndWideNumbersWriteTheirRows() throws {
        // Buckets spilled in many runs whose keys overlap (each key added in several runs and
        // in memory), sites whose names need quoting or outgrow the writer's block, and
        // counters from 0 to the widest bytes: the rows' own CSV, row by row.
        var buckets = MinuteBuckets(spillThreshold: 5)
        let sites = ["b.example", "a,quoted \"site\"", String(repeating: "long", count: 20_000), "ü.example"]
        var random = SeededGenerator(seed: 11)
        for round in 0..<4 {
            for index in 0..<60 {
                let minute = Int32(index % 17) - 3 + Int32(round)
                let requests = UInt64.random(in: 0...1_000, using: &random)
                let counts = BucketCounts(
                    requests: requests, status2xx: requests / 2, status3xx: 0, status4xx: requests / 3,
                    status5xx: requests / 7, bytes: index == 7 ? .max : UInt64.random(in: 0...1 << 40, using: &random))
                buckets.add(
                    minute: minute, site: sites[index % sites.count], country: CountryCode(rawValue: UInt16(index % 5)), counts: counts)
            }
        }
        #expect(buckets.hasSpilled)
        let rows = buckets.rows()
        let fromSequence = try Self.csv { try BucketFile.write(buckets.sortedRows(), format: .csv, to: $0) }
        #expect(fromSequence == Self.plainCSV(rows))
        // The generic path (any sequence of rows) writes the same bytes.
        #expect(try Self.csv { try BucketFile.write(rows, format: .csv, to: $0) } == fromSequence)
        #expect(fromSequence.contains(",18446744073709551615,0\n"))
    }

    @Test("what BucketFile writes, BucketFile reads back: every row, hostile site names included")
    func rowsReadBackAsWritten() throws {
        let sites = ["-", "=HYPERLINK(1)", "'quoted", "a,b", "say \"hi\"", "ü.example", "+1", "@x", "-1"]
        var random = SeededGenerator(seed: 5)
        var rows: [BucketRow] = []
        for (index, site) in sites.enumerated() {
            let requests = UInt64.random(in: 1...UInt64(UInt32.max), using: &random)
            rows.append(
                BucketRow(
                    minute: Int32(index * 997) - 3_000, site: site, country: index == 0 ? .unknown : CountryCode(isoCode: "US")!,
                    counts: BucketCounts(
                        requests: requests, status2xx: requests / 2, status3xx: requests / 5, status4xx: 0,
                        status5xx: requests / 9, bytes: index == 3 ? .max : UInt64(index))))
        }
        let text = try Self.csv { try BucketFile.write(rows, format: .csv, to: $0) }
        let lines = text.split(separator: "\n")
        #expect(lines.first.map(String.init) == BucketFile.header)
        #expect(lines.dropFirst().map { BucketFile.row($0) } == rows)
        // Not rows: the header, a status above the requests, requests beyond 32 bits, a bad country.
        for line in [
            BucketFile.header, "2016-11-09T02:00Z,a,US,5,6,0,0,0,0", "2016-11-09T02:00Z,a,US,4294967296,0,0,0,0,0",
            "2016-11-09T02:00Z,a,U1,5,0,0,0,0,0", "2016-11-09T02:00Z,a,US,5,0,0,0,0",
        ] {
            #expect(BucketFile.row(Substring(line)) == nil, "\(line)")
        }
    }
}

@Suite("spilled runs merged by level") struct SpilledRunMergeTests {
    @Test func manyRunsMergeIntoFewWithTheSameRows() {
        // Thousands of tiny spills, with sites that first appear late (their names sorting
        // before and between the earlier ones), so runs written under other site ranks merge.
        var buckets = MinuteBuckets(spillThreshold: 3)
        var reference: [String: BucketCounts] = [:]
        var random = SeededGenerator(seed: 5)
        let sites = ["m.example", "c.example", "x.example", "a.example", "n.example"]
        for index in 0..<20_000 {
            let site = sites[Int.random(in: 0...min(4, index / 4_000), using: &random)]
            let minute = Int32.random(in: -50...400, using: &random)
            let country = CountryCode(rawValue: UInt16.random(in: 0..<6, using: &random))
            let requests = UInt64.random(in: 1...3, using: &random)
            let counts = BucketCounts(
                requests: requests, status2xx: requests, status3xx: 0, status4xx: 0, status5xx: 0,
                bytes: UInt64(index))
            buckets.add(minute: minute, site: site, country: country, counts: counts)
            reference["\(minute)|\(site)|\(country.rawValue)", default: BucketCounts()].merge(counts)
        }
        // 20,000 adds over thresholds of 3 make thousands of spills; merged 64 at a time.
        #expect(buckets.spilledRunCount <= 3 * 63)  // at most 63 runs a level, 3 levels for 20,000 buckets
        let rows = buckets.rows()
        #expect(rows.count == reference.count)
        #expect(rows.allSatisfy { reference["\($0.minute)|\($0.site)|\($0.country.rawValue)"] == $0.counts })
        #expect(
            zip(rows, rows.dropFirst()).allSatisfy {
                ($0.minute, $0.site, $0.country.rawValue) < ($1.minute, $1.site, $1.country.rawValue)  // ASCII names
            })
    }
}

@Suite("each site's hours with requests, counted as buckets spill") struct SiteActiveHoursTests {
    /// Each site's hours with requests, counted from the rows, by index.
    static func fromRows(_ buckets: MinuteBuckets) -> [Int] {
        var hours: [String: Set<Int32>] = [:]
        for row in buckets.rows() { hours[row.site, default: []].insert(SiteHours.hour(of: row.minute)) }
        return buckets.siteNames.map { hours[$0]?.count ?? 0 }
    }

    static func add(_ buckets: inout MinuteBuckets, site: String, minute: Int32) {
        buckets.add(
            minute: minute, site: site, country: CountryCode(rawValue: UInt16(minute & 3)),
            counts: .init(requests: 1, status2xx: 1, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 0))
    }

    @Test("in time order: runs share an hour at their seam, counted once, minutes before 1970 too", arguments: [1, 3, 7, 1 << 16])
    func inOrder(threshold: Int) {
        var buckets = MinuteBuckets(spillThreshold: threshold)
        var random = SeededGenerator(seed: 3)
        let sites = ["b.example", "a.example", "c.example"]
        var minute: Int32 = -500
        for _ in 0..<2_000 {
            minute += Int32.random(in: 0...9, using: &random)
            Self.add(&buckets, site: sites[Int.random(in: 0..<(minute < 0 ? 2 : 3), using: &random)], minute: minute)
        }
        #expect(threshold > 1_000 || buckets.hasSpilled)
        let hours = buckets.siteActiveHours()
        #expect(hours == Self.fromRows(buckets))
        #expect(hours?.allSatisfy { $0 > 10 } == true)
    }

    static func fuzzCounts(_ n: UInt64) -> BucketCounts {
        .init(requests: n, status2xx: n, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 0)
    }

    /// Random adds (mostly forward in time, some jitter back, some far jumps), small spill
    /// thresholds, small site limits (folds), merges of other buckets in order: whenever
    /// siteActiveHours is non-nil it equals the count from the rows. (helper-32's review.)
    @Test("random adds, spills, folds and inputs merged in order: when known, the hours are the rows'")
    func siteHoursFuzz() {
        var exactCount = 0, nilCount = 0
        for seed in 1...400 as ClosedRange<UInt64> {
            var random = SeededGenerator(seed: seed)
            var buckets = MinuteBuckets(spillThreshold: Int.random(in: 1...40, using: &random))
            if seed % 3 == 0 { buckets.siteLimit = Int.random(in: 3...6, using: &random) }
            let siteCount = Int.random(in: 1...12, using: &random)
            var minute = Int32.random(in: -3000...3000, using: &random)
            let jitter = seed % 4 == 0
            for step in 0..<Int.random(in: 1...400, using: &random) {
                minute += Int32.random(in: 0...25, using: &random)
                var m = minute
                if jitter, Int.random(in: 0..<20, using: &random) == 0 { m -= Int32.random(in: 0...200, using: &random) }
                let site = "s\(Int.random(in: 0..<siteCount, using: &random)).example"
                if seed % 5 == 0, step % 50 == 49 {
                    // Another input's buckets, in order.
                    var other = MinuteBuckets(spillThreshold: 1 << 16)
                    other.add(minute: m, site: site, country: CountryCode(rawValue: 1), counts: Self.fuzzCounts(1))
                    buckets.merge(inOrder: other)
                } else {
                    buckets.add(
                        minute: m, site: site, country: CountryCode(rawValue: UInt16(Int.random(in: 0...2, using: &random))),
                        counts: Self.fuzzCounts(UInt64(Int.random(in: 0...2, using: &random))))
                }
            }
            if let hours = buckets.siteActiveHours() {
                exactCount += 1
                #expect(hours == Self.fromRows(buckets), "seed \(seed)")
            } else {
                nilCount += 1
            }
        }
        #expect(nilCount > 10, "some runs overlap in time")
        #expect(exactCount > 100)
    }

    @Test("runs that overlap in time: unknown (nil), not miscounted")
    func outOfOrder() {
        var buckets = MinuteBuckets(spillThreshold: 4)
        for minute: Int32 in [600, 601, 602, 603] { Self.add(&buckets, site: "a.example", minute: minute) }
        for minute: Int32 in [0, 61, 122, 183] { Self.add(&buckets, site: "a.example", minute: minute) }
        #expect(buckets.hasSpilled)
        #expect(buckets.siteActiveHours() == nil)
        // Lines out of order in the table alone (no spill) are counted from it.
        var held = MinuteBuckets()
        for minute: Int32 in [600, 0, 61, 601, -1] { Self.add(&held, site: "a.example", minute: minute) }
        #expect(held.siteActiveHours() == Self.fromRows(held))
        #expect(held.siteActiveHours() == [4])
    }
}

/// The one JSON encoder of the wire formats.
@Suite struct JSONValueTests {
    @Test("fields keep their order; strings are escaped, reals written as integers when they are, minutes as UTC")
    func encoding() {
        var object: JSONObject = [
            "site": .string("a\"b\\c\n\u{2028}"), "ratio": .number(3), "share": .number(0.25),
            "at": .minute(24_566_400), "none": .optional(Int?.none) { .int($0) },
        ]
        object.append("nested", .array([.bool(true), .int(UInt64.max), .integer(-1), .object(["x": .null])]))
        object.append("not a number", .number(.nan))
        #expect(
            object.encoded == #"{"site":"a\"b\\c\n\u2028","ratio":3,"share":0.25,"at":"2016-09-16T00:00Z","none":null,"#
                + #""nested":[true,18446744073709551615,-1,{"x":null}],"not a number":null}"#)
        #expect(JSONValue.number(1e15).encoded == "1000000000000000.0", "as Swift writes a Double from 10^15 on")
        #expect(JSONValue.number(-2).encoded == "-2")
    }
}
