import Foundation
import LogSurgePipelineTestSupport
import Testing
@testable import LogSurge
import LogSurgeDetect
import LogSurgeGeo
import LogSurgeParse
@testable import LogSurgeCore
@_spi(Pipeline) @testable import LogSurgeAggregate
@testable import LogSurgeInput
@testable import LogSurgeReport

/// Small fixtures with hand-checked expected buckets (the `.csv` files beside them were worked
/// out by hand from the lines, not recorded from a run).
@Suite struct EndToEndTests {
    @Test func aFIFOGivenAsAPathIsReadAsAStream() throws {
        let fifo = Support.temporaryDirectory().appendingPathComponent("access.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let log = Support.generatedLog(minutes: 10, rate: 60, seed: 3)
        let writer = Thread {
            let handle = FileHandle(forWritingAtPath: fifo)!
            handle.write(Data(log))
            try? handle.close()
        }
        writer.start()
        let analysis = Support.analyze([fifo])
        #expect(analysis.inputErrors.isEmpty)
        #expect(analysis.accounting.lines == UInt64(log.split(separator: 0x0A).count))
        #expect(analysis.accounting.lines > 100)
    }

    @Test func combinedFixtureMatchesTheHandCheckedBuckets() throws {
        let analysis = Support.analyze([Support.fixture("combined.log")])
        let expected = try String(contentsOfFile: Support.fixture("combined.buckets.csv"), encoding: .utf8)
        #expect(try Support.bucketsCSV(analysis) == expected)
        #expect(analysis.inputs.first?.format == .combined)
        #expect(analysis.inputs.first?.formatChoice == .detected)
    }

    @Test func combinedFixtureAccounting() {
        let accounting = Support.analyze([Support.fixture("combined.log")]).accounting
        #expect(accounting.lines == 19)
        #expect(accounting.parsed == 13)
        #expect(accounting.malformed[.badTimestamp] == 1)  // 31 Feb
        #expect(accounting.malformed[.badStatus] ?? 0 >= 1)  // "-" status
        #expect(accounting.malformed[.badSize] == 1)  // "12ab"
        #expect(accounting.malformed[.empty] == 1)
        #expect(accounting.malformedTotal == 6)
        #expect(accounting.isBalanced)
        // Samples name where the line was, in order.
        let timestamp = accounting.samples.first { $0.reason == .badTimestamp }
        #expect(timestamp?.line == 11)
        #expect(timestamp.map { String(decoding: $0.bytes, as: UTF8.self).contains("31/Feb/2016") } == true)
    }

    @Test func vhostFixtureWithSections() throws {
        let analysis = Support.analyze([Support.fixture("vhost.log")]) {
            $0.lines.sections = [
                .init(name: "immigration", prefix: "/en/immigration"),
                .init(name: "visas", prefix: "/en/immigration/visas"),
            ]
        }
        #expect(analysis.inputs.first?.format == .vhostCombined)
        let expected = try String(contentsOfFile: Support.fixture("vhost.buckets.csv"), encoding: .utf8)
        #expect(try Support.bucketsCSV(analysis) == expected)
    }

    @Test func gzipMultiMemberGivesTheSameBucketsAsPlain() throws {
        let plain = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Support.fixture("combined.log"))))
        let cut = plain.count / 2
        let directory = Support.temporaryDirectory()
        let path = directory.appendingPathComponent("access.log").path  // no .gz: content decides
        let twoMembers = Support.gzip(Array(plain[..<cut])) + Support.gzip(Array(plain[cut...]))
        try Support.writeFile(path, Data(twoMembers))
        let fromGzip = Support.analyze([path])
        let fromPlain = Support.analyze([Support.fixture("combined.log")])
        #expect(fromGzip.inputs.first?.stats?.compression == .gzip)
        #expect(fromGzip.buckets.rows() == fromPlain.buckets.rows())
        #expect(fromGzip.accounting.lines == fromPlain.accounting.lines)
        #expect(fromGzip.accounting.parsed == fromPlain.accounting.parsed)
    }

    @Test func truncatedGzipCountsWhatCameBeforeAndReportsTheFile() throws {
        let log = Support.generatedLog(minutes: 30, rate: 400, seed: 9, malformedRate: 0)
        let compressed = Support.gzip(log)
        let directory = Support.temporaryDirectory()
        let damaged = directory.appendingPathComponent("damaged.gz").path
        let good = directory.appendingPathComponent("good.log").path
        try Support.writeFile(damaged, Data(compressed[..<(compressed.count * 2 / 3)]))
        try Support.writeFile(good, Data(Support.generatedLog(minutes: 5, rate: 60, seed: 2, malformedRate: 0)))
        let analysis = Support.analyze([damaged, good])
        #expect(analysis.inputErrors.count == 1)
        #expect(analysis.inputErrors.first?.path == damaged)
        #expect(analysis.inputErrors.first?.offset != nil)
        let damagedLines = analysis.inputs[0].lines
        let total = UInt64(log.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) })
        #expect(damagedLines > total / 3)  // most of what came before the damage
        #expect(damagedLines < total)
        #expect(analysis.inputs[1].lines > 0)  // the run went on with the next input
        #expect(analysis.accounting.isBalanced)
    }

    @Test func inputWithNoRecognisedLineIsCountedAsMalformedNotLost() throws {
        let path = Support.temporaryDirectory().appendingPathComponent("notalog.txt").path
        try Support.writeFile(path, Data("hello\nworld\n\u{1B}[2J\n".utf8))
        let analysis = Support.analyze([path])
        #expect(analysis.inputs.first?.formatChoice == .assumed)
        #expect(analysis.accounting.lines == 3)
        #expect(analysis.accounting.parsed == 0)
        #expect(analysis.accounting.isBalanced)
        #expect(TextReport.render(analysis, databaseDescription: "test").contains("(assumed: none recognised)"))
    }

    @Test(arguments: ["\r", "\r\n", "\n"])
    func everyLineEndingCountsEveryLine(ending: String) throws {
        let lines = try String(contentsOfFile: Support.fixture("combined.log"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
            .filter { !$0.isEmpty }
        let path = Support.temporaryDirectory().appendingPathComponent("ends.log").path
        try Support.writeFile(path, Data(lines.joined(separator: ending).utf8))
        let analysis = Support.analyze([path])
        #expect(analysis.accounting.lines == 18)  // the fixture's 19 lines without its empty one
        #expect(analysis.accounting.parsed == 13)
        #expect(analysis.accounting.isBalanced)
    }

    @Test(arguments: [1, 7, 4096, 2 << 20])
    func samplesAfterADroppedOverlongLineKeepTheirLineNumbers(chunkSize: Int) throws {
        let good = "8.8.8.8 - - [09/Nov/2016:04:00:01 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n"
        var text = good + String(repeating: "x", count: 3 << 20) + "\n" + good + "bad line\n"
        text += String(repeating: "y", count: 2 << 20)  // a final overlong line without newline
        let path = Support.temporaryDirectory().appendingPathComponent("huge.log").path
        try Support.writeFile(path, Data(text.utf8))
        let analysis = Support.analyze([path]) {
            $0.reading.chunkSize = chunkSize; $0.lines.format = .fixed(.combined)
        }
        #expect(analysis.accounting.lines == 5)
        #expect(analysis.accounting.malformed[.tooLong] == 2)
        #expect(analysis.accounting.parsed == 2)
        #expect(analysis.accounting.samples.first { $0.reason == .badFormat }?.line == 4)
        #expect(analysis.accounting.isBalanced)
    }

    /// The README's main job tells election night's story (SampleLogs/, made by the generator
    /// with the events of Fixtures/sample-logs-labels.jsonl): the US rush raised as a surge, the
    /// 5xx spike as the site buckles, the drop while it is down, and nothing else: not the
    /// crawler of 7 November, nor the Monday against the Sunday's baseline.
    @Test func theSampleLogsTellElectionNight() throws {
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../SampleLogs").standardized
            .path
        let analysis = Support.analyze([samples])
        #expect(analysis.inputs.count == 4)
        #expect(analysis.inputErrors.isEmpty)
        #expect(analysis.accounting.parsed > 30_000)
        let labels = try String(contentsOfFile: Support.fixture("sample-logs-labels.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        func window(_ kind: String) throws -> ClosedRange<Int32> {
            let label = try #require(labels.first { $0["kind"] as? String == kind })
            return try #require(
                UTCMinute.parse(label["start"] as? String ?? ""))...(try #require(UTCMinute.parse(label["end"] as? String ?? "")))
        }
        let windows: [AlertEvent.Kind: ClosedRange<Int32>] = [
            .surge: try window("surge"), .errorSpike: try window("error_spike"), .drop: try window("drop"),
        ]
        let episodes = AlertEpisode.of(analysis.alerts).map(\.event)
        for kind in [AlertEvent.Kind.surge, .errorSpike, .drop] {
            #expect(episodes.contains { $0.kind == kind }, "no \(kind.rawValue) raised")
        }
        // Each episode inside the event it stands for (the surge's raised while the rush builds).
        for episode in episodes {
            let labelled = try #require(windows[episode.kind])
            #expect(labelled.contains(episode.raisedAt), "\(AlertWriter.line(episode))")
            if episode.kind == .surge { #expect(episode.country?.description == "US") }
        }
        let surge = try #require(episodes.first { $0.kind == .surge })
        #expect(surge.raisedAt < UTCMinute.parse("2016-11-09T03:00Z")!, "the rush is raised in the evening (Eastern), before 22:00")
    }

    @Test func formatGivenByOptionIsUsedAsIs() {
        let analysis = Support.analyze([Support.fixture("combined.log")]) { $0.lines.format = .fixed(.common) }
        #expect(analysis.inputs.first?.format == .common)
        #expect(analysis.inputs.first?.formatChoice == .option)
        #expect(analysis.accounting.parsed == 13)  // combined lines are read as common too
    }

    @Test func missingInputIsAnErrorAndTheRestIsStillRead() {
        let analysis = Support.analyze(["/nonexistent/access.log", Support.fixture("combined.log")])
        #expect(analysis.inputErrors.count == 1)
        #expect(analysis.accounting.parsed == 13)
    }

    @Test func summaryStatesTheInvariants() throws {
        let analysis = Support.analyze([Support.fixture("combined.log")])
        let json = SummaryWriter.json(for: analysis)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["lines"] as? Int == 19)
        #expect(object["parsed"] as? Int == 13)
        #expect(object["files"] as? Int == 1)
        #expect(object["first_minute"] as? String == "2016-11-09T04:00Z")
        #expect(object["last_minute"] as? String == "2016-11-09T04:59Z")
        #expect((object["input_errors"] as? [Any])?.isEmpty == true)
        let malformed = try #require(object["malformed"] as? [String: Int])
        #expect(Set(malformed.keys) == Set(MalformedReason.allCases.map(\.rawValue)))
        #expect(malformed.values.reduce(0, +) == 6)
        let invariants = try #require(object["invariants"] as? [String: Bool])
        #expect(invariants.values.allSatisfy { $0 })
    }

    @Test func jsonLinesBucketsCarryTheSameFields() throws {
        let analysis = Support.analyze([Support.fixture("combined.log")])
        let path = Support.temporaryDirectory().appendingPathComponent("b.jsonl").path
        let sink = try OutputSink(path: path)
        try BucketFile.write(analysis.buckets.rows(), format: BucketFile.Format(path: path), to: sink)
        try sink.close()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(Set(first.keys) == Set(BucketFile.columns))
        #expect(first["minute"] as? String == "2016-11-09T04:00Z")
        #expect(first["country"] as? String == "--")
        #expect(first["requests"] as? Int == 4)
        #expect(first["bytes"] as? Int == 403)
    }

    @Test("CSV rows as their fields say, for many rows, every counter width and a site name longer than a write block")
    func csvRowsAtScale() throws {
        var buckets = MinuteBuckets()
        let longSite = String(repeating: "s", count: 100_000)
        var expected: [String] = []
        for index in 0..<5_000 {
            let site = index % 1000 == 7 ? longSite : "site\(index % 3)"
            let value = UInt64(index) * 1_000_003 % 9_999_999_999
            let counts = BucketCounts(
                requests: UInt64(index + 1), status2xx: UInt64(index), status3xx: 0, status4xx: 1,
                status5xx: UInt64(index % 7), bytes: value)
            let clients = index % 13 == 5 ? 0 : min(index + 1, index * 31 % 2_000 + 1)
            buckets.add(
                minute: Int32(index), site: site, country: index % 2 == 0 ? .unknown : CountryCode(isoCode: "US")!, counts: counts,
                clients: ClientTally(reported: ClientFigures(distinct: clients)))
            expected.append(
                "\(UTCMinute.format(Int32(index))),\(site),\(index % 2 == 0 ? "--" : "US"),\(index + 1),\(index),0,1,\(index % 7),\(value),\(clients)"
            )
        }
        let path = Support.temporaryDirectory().appendingPathComponent("b.csv").path
        let sink = try OutputSink(path: path)
        try BucketFile.write(buckets.sortedRows(), format: .csv, to: sink)
        try sink.close()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == BucketFile.columns.joined(separator: ","))
        #expect(Array(lines.dropFirst()) == expected)
    }

    @Test func reportNamesFormatSpanSitesAndCountries() {
        let analysis = Support.analyze([Support.fixture("combined.log")])
        let report = TextReport.render(analysis, databaseDescription: "test")
        #expect(report.contains("combined (detected)"))
        #expect(report.contains("2016-11-09T04:00Z to 2016-11-09T04:59Z"))
        #expect(report.contains("bad_timestamp"))
        #expect(report.contains("  US "))
        #expect(!report.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }
}
