import Foundation
import Testing
@testable import LogSurge
import LogSurgeGeo
import LogSurgeParse

/// Detection on generated traffic with known injected events.
@Suite struct DetectionTests {
    static let start = UTCMinute.parse("2016-11-01T00:00Z")!
    static let us = CountryCode(isoCode: "US")!

    /// Runs the detectors over `days` of generated counts at `rate` with `events`.
    static func detect(days: Int, rate: Double, seed: UInt64, events: [InjectedEvent] = [],
                       configuration: DetectorConfiguration = DetectorConfiguration()) -> [AlertEvent] {
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
            let observation = SiteObservation(site: "-", requests: counts.reduce(0) { $0 + $1.requests },
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
        let onset = Self.minute("2016-11-04T02:00Z")   // evening in the US
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

    @Test func twoErrorsOfThreeRequestsAreNotASpike() {
        let engine = DetectionEngine(configuration: DetectorConfiguration())
        var alerts: [AlertEvent] = []
        for minute in Int32(0)..<120 {
            let spiky = minute == 100
            alerts += engine.step(minute: minute, observations: [
                SiteObservation(site: "small", requests: spiky ? 3 : 20, errors: spiky ? 2 : 0, watched: [:]),
            ])
        }
        #expect(alerts.isEmpty)
        // … while 40% of 600 is.
        let big = DetectionEngine(configuration: DetectorConfiguration())
        var raised: [AlertEvent] = []
        for minute in Int32(0)..<120 {
            raised += big.step(minute: minute, observations: [
                SiteObservation(site: "big", requests: 600, errors: minute == 100 ? 240 : 1, watched: [:]),
            ])
        }
        #expect(raised.map(\.kind) == [.errorSpike, .errorSpike], "\(raised.map(AlertWriter.line).joined())")
        #expect(raised.map(\.state) == [.open, .closed])
        #expect(raised.first?.raisedAt == 100)
    }

    @Test func poissonAndBinomialTailsMatchKnownValues() {
        // P(X >= 10 | Poisson(2)) = 4.6498e-5 ; P(X >= 2 | Poisson(2)) = 0.59399
        #expect(abs(CountStatistics.poissonUpperTail(10, mean: 2) - 4.6498e-5) < 1e-8)
        #expect(abs(CountStatistics.poissonUpperTail(2, mean: 2) - 0.593994) < 1e-5)
        // P(X >= 2 | Bin(3, 0.1)) = 0.028 ; P(X >= 5 | Bin(10, 0.5)) = 0.623047
        #expect(abs(CountStatistics.binomialUpperTail(2, trials: 3, probability: 0.1) - 0.028) < 1e-9)
        #expect(abs(CountStatistics.binomialUpperTail(5, trials: 10, probability: 0.5) - 0.623046875) < 1e-9)
    }
}
