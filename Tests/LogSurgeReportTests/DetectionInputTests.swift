import Foundation
import LogSurgeAggregate
import LogSurgeCore
import LogSurgeDetect
import LogSurgePipelineTestSupport
@testable import LogSurgeReport
import Testing

/// Hostile and odd inputs to detection: never a crash, a hang or a false episode. Here, the
/// series and bucket files `logsurge detect` reads (CountSeriesReader).
@Suite struct DetectionInputTests {
    static func write(_ text: String, name: String = "series.csv") throws -> String {
        let path = Support.temporaryDirectory().appendingPathComponent(name).path
        try Support.writeFile(path, Data(text.utf8))
        return path
    }

    static func series(_ path: String) throws -> CountSeriesReader.Series {
        guard case .series(let series) = try CountSeriesReader.read(path: path).content else {
            throw CountSeriesReader.ReadError(description: "not a series")
        }
        return series
    }

    @Test func timestampsThousandsOfYearsApartAreAnErrorOrAnAnswer() throws {
        let path = try Self.write("0001-01-01 00:00,5\n3999-01-01 00:00,5\n3999-01-01 00:01,5\n")
        if let series = try? Self.series(path) {
            _ = Detection.run(series, configuration: DetectorConfiguration())
        }
        var buckets = MinuteBuckets()
        // Minutes no log gives (outside `UTCMinute.supported`), 8,000 years apart: the library's
        // buckets take any Int32.
        for minute: Int32 in [-2_088_000_000, 2_100_000_000] {
            buckets.add(
                minute: minute, site: "-", country: .unknown,
                counts: BucketCounts(requests: 1, status2xx: 1, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 0))
        }
        #expect(Detection.run(buckets, configuration: DetectorConfiguration()).isEmpty)
    }

    @Test func seriesTimesAreCheckedAgainstTheSupportedYearsInUTC() {
        #expect(CountSeriesReader.timestamp("4000-01-01T00:30+01:00") == UTCMinute.parse("3999-12-31T23:30Z"))
        #expect(CountSeriesReader.timestamp("3999-12-31T23:30-01:00") == nil)
        #expect(CountSeriesReader.timestamp("0000-01-01T00:30+01:00") == nil)
        #expect(CountSeriesReader.timestamp("0000-01-01T00:00Z") == UTCMinute.supported.lowerBound)
    }

    @Test func aLongHoleInASeriesIsNotASurge() throws {
        var text = "timestamp,value\n"
        let start = UTCMinute.parse("2016-01-01T00:00Z")!
        var random = SeededGenerator(seed: 6)
        for step in 0..<(14 * 288) where !(3 * 288..<12 * 288).contains(step) {  // 5-minute steps, 9 days missing
            text += "\(UTCMinute.format(start + Int32(step * 5))),\(90 + Int(random.next() % 21))\n"
        }
        let series = try Self.series(try Self.write(text))
        #expect(series.stepMinutes == 5)
        #expect(Detection.run(series, configuration: DetectorConfiguration()).isEmpty)
    }

    @Test("a bucket file with a byte-order mark is still a bucket file, CSV or JSON lines")
    func byteOrderMarkBeforeBuckets() throws {
        let row = "2016-11-08T20:00Z,-,US,12,12,0,0,0,1000,9\n"
        let json =
            "{\"minute\":\"2016-11-08T20:00Z\",\"site\":\"-\",\"country\":\"US\",\"requests\":12,\"status_2xx\":12,"
            + "\"status_3xx\":0,\"status_4xx\":0,\"status_5xx\":0,\"bytes\":1000,\"clients\":9}\n"
        for (text, name) in [("\u{FEFF}" + BucketFile.header + "\n" + row, "bom.csv"), ("\u{FEFF}" + json, "bom.jsonl")] {
            let (content, skipped) = try CountSeriesReader.read(path: try Self.write(text, name: name))
            guard case .buckets(let buckets) = content else {
                Issue.record("\(name): not read as buckets")
                continue
            }
            #expect(skipped == 0)
            #expect(buckets.rows().map(\.clients.distinct) == [9], "\(name)")
        }
    }

    @Test("thousands of huge values at one timestamp sum to the largest value read, not an overflow")
    func duplicateTimestampsDoNotOverflow() throws {
        var text = "timestamp,value\n"
        for _ in 0..<9300 { text += "2016-01-01T00:00Z,999999999999999\n" }
        for step in 1..<100 { text += "\(UTCMinute.format(UTCMinute.parse("2016-01-01T00:00Z")! + Int32(step * 5))),10\n" }
        // Before: the duplicates' sum trapped (status 132 from `logsurge detect`).
        let series = try Self.series(try Self.write(text))
        #expect(series.points.first?.value == 999_999_999_999_999)
        #expect(series.points.count == 100)
    }

    @Test func theGridFollowsMostPointsNotTheFirst() throws {
        var text = "2016-01-01T00:03Z,100\n"
        for step in 1..<400 {
            text +=
                "\(UTCMinute.format(UTCMinute.parse("2016-01-01T00:00Z")! + Int32(step * 5))),\(step >= 300 && step < 310 ? 2000 : 100)\n"
        }
        let (content, skipped) = try CountSeriesReader.read(path: try Self.write(text))
        guard case .series(let series) = content else { Issue.record("not a series"); return }
        #expect(skipped == 1)
        #expect(series.points.count == 399)
        #expect(Detection.run(series, configuration: DetectorConfiguration()).filter { $0.state == .open }.count == 1)
    }

    @Test func dailySeriesWithBareDatesAreRead() throws {
        var text = ""
        for day in 0..<60 {
            text += "\(UTCMinute.format(Int32(day * 1440) + UTCMinute.parse("2016-01-01T00:00Z")!).prefix(10)),\(1000 + day % 7)\n"
        }
        #expect(try Self.series(try Self.write(text)).stepMinutes == 1440)
    }

    @Test func impossibleBucketRowsAreLeftOutAndCounted() throws {
        let header = BucketFile.columns.joined(separator: ",")
        let text =
            header
            + "\n2016-11-09T02:31Z,-,US,4294967297,0,0,0,0,0\n2016-11-09T02:31Z,-,US,3,0,0,0,5,0\n2016-11-09T02:32Z,\"a,b\",US,3,3,0,0,0,9\n"
        let (content, skipped) = try CountSeriesReader.read(path: try Self.write(text))
        #expect(skipped == 2)
        guard case .buckets(let buckets) = content else { Issue.record("not buckets"); return }
        #expect(buckets.rows().map(\.site) == ["a,b"])
    }
}
