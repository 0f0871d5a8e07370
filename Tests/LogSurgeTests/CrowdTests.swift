import Foundation
import LogSurge
import LogSurgeCore
import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeGenerate
import LogSurgePipelineTestSupport
import LogSurgeReport
import Testing

/// A surge is a crowd, not one client: generated logs read through the whole pipeline (the
/// clients are counted from the lines), with crawlers and a crowd injected.
@Suite struct CrowdTests {
    static let start = UTCMinute.parse("2016-11-01T00:00Z")!

    static func minute(_ day: Int, _ hour: Int) -> Int32 { start + Int32(day * 1440 + hour * 60) }

    /// The alerts of a run over `minutes` of generated lines with `events`.
    static func alerts(minutes: Int, rate: Double, seed: UInt64, events: [InjectedEvent], dispersion: Double = 0) throws -> [AlertEvent] {
        let log = Support.generatedLog(minutes: minutes, rate: rate, seed: seed, events: events, dispersion: dispersion)
        let path = Support.temporaryDirectory().appendingPathComponent("crowd.log").path
        try Support.writeFile(path, Data(log))
        let analysis = Support.analyze([path])
        return DetectionRun(DetectionPolicy()).run(analysis.buckets).events
    }

    @Test("crawlers and scanners from one address raise no surge; a crowd of the same size does, with its clients")
    func crowdsNotCrawlers() throws {
        let events = [
            // A scanner at 300 requests a minute, at night in the US.
            InjectedEvent(kind: .crawler(country: "US", rate: 300), onset: Self.minute(1, 8), duration: 30),
            // A crawler at 60 a minute for three hours, ramping up and down.
            InjectedEvent(kind: .crawler(country: "US", rate: 60), onset: Self.minute(1, 14), duration: 180, ramp: 10),
            // A crowd: US traffic ×6 for an hour.
            InjectedEvent(kind: .surge(country: "US", factor: 6), onset: Self.minute(1, 22), duration: 60, ramp: 5),
        ]
        let alerts = try Self.alerts(minutes: 2 * 1440, rate: 200, seed: 21, events: events, dispersion: 0.02)
        let opened = alerts.filter { $0.state == .open }
        try #require(opened.count == 1, "\(alerts.map(AlertWriter.line).joined())")
        let surge = opened[0]
        #expect(surge.kind == .surge && surge.start >= events[2].onset - 2 && surge.raisedAt - events[2].onset <= 10)
        let closed = try #require(alerts.first { $0.state == .closed })
        // Many clients, none of them sending much of the excess.
        #expect((closed.clients ?? 0) >= 30)
        #expect((closed.topClientShare ?? 1) < 0.2)
        #expect(AlertWriter.line(closed).contains("\"clients\":\(closed.clients!),\"top_client_share\":"))
    }

    @Test("two or three crawlers at once are no crowd either, and leave no drop behind them")
    func aHandfulOfCrawlers() throws {
        let three = Self.minute(1, 18)
        let events =
            (0..<3).map { _ in InjectedEvent(kind: .crawler(country: "US", rate: 200), onset: three, duration: 60) }
            + (0..<2).map { _ in InjectedEvent(kind: .crawler(country: "US", rate: 100), onset: Self.minute(1, 8), duration: 60) }
        // Before: each minute's busiest client was left out, the others raised the surge
        // (and the crawlers' hour, learnt as normal, made the next quiet hours look like a drop).
        let alerts = try Self.alerts(minutes: 2 * 1440, rate: 100, seed: 23, events: events, dispersion: 0.02)
        #expect(alerts.isEmpty, "\(alerts.map(AlertWriter.line).joined())")
    }

    @Test("a crawler of a country not watched leaves no drop at its hour on the next days, read from files or as a stream")
    func anUnwatchedCrawlerIsNoBaseline() throws {
        // Canada is not watched (the default watches the US): before, its crawler's hour was
        // learnt into the site's traffic, and the next three days had a drop at that hour.
        let events = [InjectedEvent(kind: .crawler(country: "CA", rate: 1000), onset: Self.minute(1, 3), duration: 60)]
        let log = Support.generatedLog(minutes: 5 * 1440, rate: 100, seed: 24, events: events)
        let path = Support.temporaryDirectory().appendingPathComponent("crawler-ca.log").path
        try Support.writeFile(path, Data(log))
        let batch = Support.analyze([path])
        let streamed = Support.analyze([path]) {
            $0.detection?.lateness = 3; $0.reading.chunkSize = 1 << 16
        }
        #expect(batch.alerts.isEmpty, "\(batch.alerts.map(AlertWriter.line).joined())")
        #expect(streamed.alerts == batch.alerts)
    }

    @Test("a crowd while the site is half down is raised within minutes")
    func aCrowdDuringAPartialDrop() throws {
        // The site serves 30 % of its traffic for a day; the crowd comes in its afternoon. Before,
        // the drop's steps (left out of the baselines) barred every test window longer than a
        // step: at 60 requests a minute the ×10 crowd was raised 43 minutes late.
        let onset = Self.minute(1, 16)
        let events = [
            InjectedEvent(kind: .drop(factor: 0.3), onset: Self.minute(1, 0), duration: 1440),
            InjectedEvent(kind: .surge(country: "US", factor: 10), onset: onset, duration: 60),
        ]
        let alerts = try Self.alerts(minutes: 3 * 1440, rate: 60, seed: 7, events: events, dispersion: 0.1)
        let surges = alerts.filter { $0.kind == .surge && $0.state == .open }
        try #require(surges.count == 1, "\(alerts.map(AlertWriter.line).joined())")
        #expect(surges[0].start >= onset - 2 && surges[0].raisedAt - onset <= 10, "\(AlertWriter.line(surges[0]))")
        #expect(alerts.contains { $0.kind == .drop && $0.state == .open })
    }

    @Test("a line a minute with no client (a health probe) does not turn the crawler rule off")
    func aProbeWithoutAClient() throws {
        // With one such line a minute the site's clients were "not known" every minute and the
        // Canadian crawler of `anUnwatchedCrawlerIsNoBaseline` raised its drops again.
        let events = [InjectedEvent(kind: .crawler(country: "CA", rate: 1000), onset: Self.minute(1, 3), duration: 60)]
        var log = Support.generatedLog(minutes: 5 * 1440, rate: 100, seed: 24, events: events)
        for minute in 0..<(5 * 1440) {
            let stamp = UTCMinute.format(Self.start + Int32(minute))  // 2016-11-01T00:00Z
            let (date, time) = (stamp.prefix(10).split(separator: "-"), stamp.dropFirst(11).prefix(5))
            log += Array(
                "- - - [\(date[2])/Nov/\(date[0]):\(time):00 +0000] \"GET /health HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.27\"\n".utf8)
        }
        let path = Support.temporaryDirectory().appendingPathComponent("probe.log").path
        try Support.writeFile(path, Data(log))
        let analysis = Support.analyze([path])
        #expect(analysis.alerts.isEmpty, "\(analysis.alerts.map(AlertWriter.line).joined())")
    }

    @Test("the return of a site's traffic after an outage is no surge of its main country")
    func theReturnIsNoSurge() throws {
        // During a drop the countries are expected at the part of the site the other countries
        // show; judged by the last hour instead, everything coming back read as a US surge.
        let events = [InjectedEvent(kind: .drop(factor: 0), onset: Self.minute(1, 12), duration: 120)]
        let alerts = try Self.alerts(minutes: 2 * 1440, rate: 400, seed: 7, events: events, dispersion: 0.1)
        let opened = alerts.filter { $0.state == .open }
        #expect(opened.count == 1 && opened.first?.kind == .drop, "\(alerts.map(AlertWriter.line).joined())")
    }

    @Test("a crowd's episode ends with the crowd, not with a crawler that goes on for a day")
    func aCrawlerDoesNotHoldTheCrowdOpen() throws {
        // Before, the crawler's requests counted as the episode's activity: it closed 29 hours
        // late, when the crawler stopped.
        let onset = Self.minute(1, 16)
        let events = [
            InjectedEvent(kind: .crawler(country: "US", rate: 40), onset: Self.minute(1, 14), duration: 2000),
            InjectedEvent(kind: .surge(country: "US", factor: 10), onset: onset, duration: 120),
        ]
        let alerts = try Self.alerts(minutes: 3 * 1440, rate: 100, seed: 9, events: events)
        let closed = alerts.filter { $0.state == .closed }
        try #require(closed.count == 1 && closed[0].kind == .surge, "\(alerts.map(AlertWriter.line).joined())")
        #expect(closed[0].start >= onset - 2 && closed[0].end! <= onset + 120 + 15, "\(AlertWriter.line(closed[0]))")
    }

    @Test("the same crawler, without the crowd rule's client counts (a series without clients), is a surge")
    func withoutClientsTheCrawlerIsASurge() throws {
        // What the crowd rule stops: the same counts with the clients forgotten raise it.
        let events = [InjectedEvent(kind: .crawler(country: "US", rate: 300), onset: Self.minute(1, 8), duration: 30)]
        let log = Support.generatedLog(minutes: 1440 + 600, rate: 200, seed: 21, events: events)
        let path = Support.temporaryDirectory().appendingPathComponent("crawler.log").path
        try Support.writeFile(path, Data(log))
        let analysis = Support.analyze([path])
        var forgotten = MinuteBuckets()
        for row in analysis.buckets.rows() {
            forgotten.add(minute: row.minute, site: row.site, country: row.country, counts: row.counts)
        }
        let withClients = DetectionRun(DetectionPolicy()).run(analysis.buckets).events
        let without = DetectionRun(DetectionPolicy()).run(forgotten).events
        #expect(withClients.isEmpty, "\(withClients.map(AlertWriter.line).joined())")
        #expect(without.contains { $0.kind == .surge }, "the crawler should be a surge by its counts alone")
    }
}
