import Foundation
import LogSurge
import LogSurgeAggregate
import LogSurgePipelineTestSupport
import Testing
import LogSurgeCore
import LogSurgeDetect
import LogSurgeGenerate
import LogSurgeReport

/// Detection on generated traffic with known injected events: here rather than in
/// LogSurgeDetectTests, which builds without the generator (its inputs are written by hand).
@Suite struct DetectionTests {
    static let start = UTCMinute.parse("2016-11-01T00:00Z")!
    static let us = CountryCode(isoCode: "US")!

    /// Runs the detectors over `days` of generated counts at `rate` with `events`.
    static func detect(
        days: Int, rate: Double, seed: UInt64, events: [InjectedEvent] = [],
        configuration: DetectorConfiguration = DetectorConfiguration()
    ) -> [AlertEvent] {
        var generator = GeneratorConfiguration()
        generator.start = start
        generator.minutes = days * 1440
        generator.peakRate = rate
        generator.seed = seed
        generator.events = events
        var traffic = TrafficGenerator(configuration: generator)
        let engine = DetectionEngine(configuration: configuration)
        var alerts: [AlertEvent] = []
        for minute in start..<(start + Int32(days * 1440)) {
            let counts = traffic.sampleCounts(minute: minute)
            var watched: [CountryCode: Int] = [:]
            for entry in counts where configuration.watchedCountries.contains(CountryCode(isoCode: entry.country)!) {
                watched[CountryCode(isoCode: entry.country)!] = entry.requests
            }
            let observation = SiteObservation(
                site: "-", requests: counts.reduce(0) { $0 + $1.requests },
                errors: counts.reduce(0) { $0 + $1.errors }, watched: watched)
            alerts += engine.step(minute: minute, observations: [observation])
        }
        return alerts + engine.finish()
    }

    static func minute(_ text: String) -> Int32 { UTCMinute.parse(text)! }

    @Test(arguments: [(40.0, UInt64(1)), (400.0, UInt64(2))])
    func quietWeekRaisesNothing(rate: Double, seed: UInt64) {
        let alerts = Self.detect(days: 7, rate: rate, seed: seed)
        #expect(alerts.isEmpty, "\(alerts.map(AlertWriter.line))")
    }

    @Test(arguments: [(5.0, 400.0), (10.0, 400.0), (50.0, 40.0)])
    func usSurgeIsOneEpisodeRaisedSoonAfterOnset(factor: Double, rate: Double) throws {
        let onset = Self.minute("2016-11-04T02:00Z")  // evening in the US
        let surge = InjectedEvent(kind: .surge(country: "US", factor: factor), onset: onset, duration: 120)
        let alerts = Self.detect(days: 4, rate: rate, seed: 7, events: [surge])
        let opened = alerts.filter { $0.state == .open }
        try #require(opened.count == 1, "\(alerts.map(AlertWriter.line).joined())")
        let alert = opened[0]
        #expect(alert.kind == .surge)
        #expect(alert.country == Self.us)
        #expect(alert.raisedAt >= onset)
        #expect(alert.raisedAt - onset <= (rate >= 400 ? 4 : 10))
        #expect(alert.start >= onset - 2 && alert.start <= alert.raisedAt)
        #expect((alert.ratio ?? 0) >= factor / 2)
        let closed = try #require(alerts.first { $0.state == .closed && $0.id == alert.id })
        #expect(closed.end.map { abs(Int($0) - Int(surge.end - 1)) <= 15 } == true, "\(closed.end.map(UTCMinute.format) ?? "nil")")
    }

    @Test func errorSpikeIsOneEpisodeAndRaisesNoSurge() throws {
        let onset = Self.minute("2016-11-03T15:00Z")
        let spike = InjectedEvent(kind: .errorSpike(share: 0.35), onset: onset, duration: 10)
        let alerts = Self.detect(days: 3, rate: 400, seed: 3, events: [spike])
        let opened = alerts.filter { $0.state == .open }
        try #require(opened.count == 1, "\(alerts.map(AlertWriter.line))")
        #expect(opened[0].kind == .errorSpike)
        #expect(opened[0].country == nil)
        #expect(opened[0].raisedAt - onset <= 2)
        #expect((opened[0].peakErrorRate ?? 0) > 0.2)
    }

    @Test func aRiseInEveryCountryIsNotASurgeOfOne() {
        let onset = Self.minute("2016-11-04T16:00Z")
        let rise = InjectedEvent(kind: .surge(country: nil, factor: 5), onset: onset, duration: 90, ramp: 10)
        let alerts = Self.detect(days: 4, rate: 400, seed: 11, events: [rise])
        #expect(alerts.filter { $0.kind == .surge }.isEmpty, "\(alerts.map(AlertWriter.line))")
    }

}

/// Detection inside `analyze`: as the stream goes (a pipe) or over the finished buckets.
@Suite struct StreamingDetectionTests {
    @Test func decidingAsTheStreamGoesGivesTheAlertsOfTheFinishedBuckets() throws {
        let batch = Support.analyze([Support.surgeLogPath])
        let streamed = Support.analyze([Support.surgeLogPath]) {
            $0.detection?.lateness = 3; $0.reading.chunkSize = 4096
        }
        #expect(batch.alerts.filter { $0.state == .open }.map(\.kind) == [.surge])
        #expect(streamed.alerts == batch.alerts)
        #expect(streamed.lateLines == 0)
        #expect(Detection.run(batch.buckets, configuration: DetectorConfiguration()) == batch.alerts)
    }

    @Test func reportDrawsEachEpisodeAgainstItsBaseline() throws {
        let alerts = Support.analyze([Support.surgeLogPath]).alerts
        let closed = try #require(alerts.first { $0.state == .closed })
        let picture = try #require(closed.picture)
        #expect(picture.values.count == picture.baselines.count)
        #expect(picture.firstMinute <= closed.start)
        // The surge stands well above the baseline it was judged against.
        #expect((picture.values.max() ?? 0) > 4 * (picture.baselines.max() ?? 0))
        let report = TextReport.renderEpisodes(alerts, configuration: DetectorConfiguration())
        #expect(report.contains("Alerts: 1 episode"))
        #expect(report.contains("observed |"))
        #expect(report.contains("baseline |"))
        #expect(report.contains("raised \(UTCMinute.format(closed.raisedAt))"))
    }

    @Test(
        "a stream whose first line is dated far ahead (a clock set wrong) is decided by the lines after it, as its finished buckets are",
        arguments: [4096, 1 << 20])
    func aFirstLineFarAheadDoesNotDecideTheStream(chunkSize: Int) throws {
        let directory = Support.temporaryDirectory()
        for bogus in ["31/Dec/3999:23:59:59 +0000", "09/Nov/2016:23:00:00 -0500"] {
            let path = directory.appendingPathComponent("ahead.log").path
            let line = "8.8.8.8 - - [\(bogus)] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n"
            try Support.writeFile(path, Data(line.utf8) + Data(Support.surgeLog))
            let batch = Support.analyze([path])
            let streamed = Support.analyze([path]) {
                $0.detection?.lateness = 3; $0.reading.chunkSize = chunkSize
            }
            // Before: every later line was late (decided with the first), and nothing was raised.
            #expect(streamed.lateLines == 0, "\(bogus)")
            #expect(batch.alerts.contains { $0.kind == .surge })
            #expect(streamed.alerts == batch.alerts, "\(bogus)")
            #expect(streamed.accounting.isBalanced)
        }
    }

    @Test func linesLaterThanTheWatermarkAreCountedAsLate() throws {
        // The same log, then a line for its first minute again: too late for the detectors.
        var log = Support.surgeLog
        log += Array("8.8.8.8 - - [08/Nov/2016:15:00:10 -0500] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n".utf8)
        let path = Support.temporaryDirectory().appendingPathComponent("late.log").path
        try Support.writeFile(path, Data(log))
        let analysis = Support.analyze([path]) { $0.detection?.lateness = 3 }
        #expect(analysis.lateLines == 1)
        // Said with its share (one of thousands is not "0 %") and the fix for a pipe.
        let warning = try #require(analysis.warnings.first { $0.code == .lateLines })
        #expect(warning.message.hasPrefix("under 0.1 % of the requests (1 of "), "\(warning.message)")
        #expect(warning.message.contains("give the files or their directory as arguments"))
        #expect(analysis.accounting.isBalanced)
        #expect(analysis.buckets.rows().reduce(0) { $0 + $1.counts.requests } == analysis.accounting.parsed)
    }
}

/// Hostile and odd inputs to detection: never a crash, a hang or a false episode. Here, a pipe
/// read as a stream (series files read back are checked in LogSurgeReportTests, the generator's
/// event specifications in LogSurgeGenerateTests).
@Suite struct DetectionInputTests {
    static func write(_ text: String, name: String = "series.csv") throws -> String {
        let path = Support.temporaryDirectory().appendingPathComponent(name).path
        try Support.writeFile(path, Data(text.utf8))
        return path
    }

    @Test func oneLineWithAFutureDateDoesNotSilenceAPipe() throws {
        // The streaming log with one line dated a year later early on.
        var text = String(decoding: Support.surgeLog, as: UTF8.self)
        let early = text.index(text.startIndex, offsetBy: text.utf8.count / 10)
        let lineStart = text[early...].firstIndex(of: "\n")!
        text.insert(contentsOf: "\n8.8.8.8 - - [08/Nov/2017:15:00:10 -0500] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"", at: lineStart)
        let path = try Self.write(text, name: "future.log")
        let analysis = Support.analyze([path]) { $0.detection?.lateness = 3 }
        #expect(analysis.alerts.filter { $0.state == .open }.map(\.kind) == [.surge])
        #expect(analysis.lateLines == 0)
    }
}
