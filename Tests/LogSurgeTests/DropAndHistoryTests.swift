import Foundation
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeGenerate
import LogSurgeReport
import Testing
@testable import LogSurge

/// Drops, and episodes that outlast a short history, on generated traffic.
@Suite struct DropAndHistoryTests {
    static let start = UTCMinute.parse("2016-11-01T00:00Z")!

    /// Alerts of the default detectors over `minutes` of generated counts at `rate` with `events`.
    static func detect(minutes: Int, rate: Double, seed: UInt64, events: [InjectedEvent]) -> [AlertEvent] {
        var generator = GeneratorConfiguration()
        generator.start = start
        generator.minutes = minutes
        generator.peakRate = rate
        generator.seed = seed
        generator.events = events
        var traffic = TrafficGenerator(configuration: generator)
        let run = DetectionRun(DetectionPolicy())
        var buckets = MinuteBuckets()
        for minute in start..<(start + Int32(minutes)) {
            for entry in traffic.sampleCounts(minute: minute) where entry.requests > 0 {
                buckets.add(
                    minute: minute, site: "-", country: CountryCode(isoCode: entry.country)!,
                    counts: BucketCounts(
                        requests: UInt64(entry.requests), status2xx: UInt64(entry.requests - entry.errors), status3xx: 0, status4xx: 0,
                        status5xx: UInt64(entry.errors), bytes: 0))
            }
        }
        return run.run(buckets).events
    }

    @Test(
        "a 4-hour ×10 surge after an hour, and after a day, of history is one episode, ending within 15 minutes of its end",
        arguments: [60, 1440])
    func aSurgeThatStaysHighStaysOpen(history: Int) throws {
        let onset = Self.start + Int32(history)
        let surge = InjectedEvent(kind: .surge(country: "US", factor: 10), onset: onset, duration: 240)
        let alerts = Self.detect(minutes: history + 240 + 120, rate: 100, seed: 5, events: [surge])
        let opened = alerts.filter { $0.state == .open }
        // Before the fix, with an hour of history, the episode's own minutes became the
        // baseline: it closed after 30 minutes and never opened again.
        try #require(opened.count == 1, "\(alerts.map(AlertWriter.line).joined())")
        #expect(opened[0].kind == .surge && opened[0].raisedAt - onset <= 5)
        let closed = try #require(alerts.first { $0.state == .closed })
        let end = try #require(closed.end)
        #expect(abs(Int(end) - Int(surge.end - 1)) <= 15, "ended \(UTCMinute.format(end)), the surge at \(UTCMinute.format(surge.end - 1))")
    }

    @Test("--idle-flush counts quiet minutes as minutes without a line only for a live log")
    func idleFlushInventsNoMinutesForOldLines() {
        let now = 1_780_000_000.0  // seconds since 1970
        let nowMinute = Int32(now / 60)
        // A live log, quiet for 10 minutes after a 60 s flush: its 9 further minutes are decided.
        #expect(OrderedMerger.idleLimit(newest: nowMinute - 10, quiet: 600, after: 60, now: now) == nowMinute - 1)
        // Old lines (2016) through a pipe that paused as long: only what was read is decided.
        let old = UTCMinute.parse("2016-11-08T21:29Z")!
        #expect(OrderedMerger.idleLimit(newest: old, quiet: 600, after: 60, now: now) == old)
        // A clock a few minutes off is still live; quiet shorter than a minute past the flush adds none.
        #expect(OrderedMerger.idleLimit(newest: nowMinute + 3, quiet: 30, after: 1, now: now) == nowMinute + 3)
    }

    @Test("an outage and a fall to a fifth are drops, raised within 5 minutes, ended with them; the nights are not drops")
    func outagesAreDrops() throws {
        let outage = InjectedEvent(kind: .drop(factor: 0), onset: Self.start + 2 * 1440 + 14 * 60, duration: 10)
        let fall = InjectedEvent(kind: .drop(factor: 0.2), onset: Self.start + 2 * 1440 + 20 * 60, duration: 30)
        let alerts = Self.detect(minutes: 3 * 1440, rate: 400, seed: 6, events: [outage, fall])
        let opened = alerts.filter { $0.state == .open }
        try #require(opened.map(\.kind) == [.drop, .drop], "\(alerts.map(AlertWriter.line).joined())")
        for (alert, event) in zip(opened, [outage, fall]) {
            #expect(alert.raisedAt >= event.onset && alert.raisedAt - event.onset <= 5)
            #expect(alert.country == nil && (alert.ratio ?? 1) <= 0.3)
            let closed = try #require(alerts.first { $0.state == .closed && $0.id == alert.id })
            #expect(closed.end.map { abs(Int($0) - Int(event.end - 1)) <= 5 } == true)
        }
    }
}
