import Testing
import LogSurgeCore
@testable import LogSurgeDetect

/// Sites stepped side by side (`DetectionEngine.threads`) raise what one thread raises: the same
/// events in the same order with the same ids, and the same charts.
@Suite struct ParallelStepTests {
    static let us = CountryCode(isoCode: "US")!
    static let de = CountryCode(isoCode: "DE")!

    /// A day of 24 sites (5 to 28 requests a minute, 40 % from the US) with surges, 5xx spikes
    /// and outages at several sites in the same minutes, as `(events, trace)`.
    static func run(threads: Int, watchingAll: Bool) -> (events: [AlertEvent], trace: DetectionTrace) {
        var configuration = DetectorConfiguration()
        configuration.watchesEveryCountry = watchingAll
        let engine = DetectionEngine(configuration: configuration)
        engine.threads = threads
        let trace = DetectionTrace(minutes: 0...1439, maximumColumns: 240)
        engine.trace = trace
        var random = SeededGenerator(seed: 17)
        func poisson(_ mean: Double) -> Int { NoiseModelTests.poisson(mean, &random) }
        var events: [AlertEvent] = []
        for minute in Int32(0)..<1440 {
            var observations: [SiteObservation] = []
            for site in 0..<24 {
                let rate = Double(5 + site)
                var us = poisson(0.4 * rate), de = poisson(0.6 * rate)
                if (0..<3).contains(site), (900..<960).contains(minute) { us += poisson(4 * rate) }
                if site == 3, (950..<1000).contains(minute) { de += poisson(6 * rate) }
                if (10..<12).contains(site), (1100..<1130).contains(minute) { (us, de) = (0, 0) }
                let requests = us + de
                let errors = (5..<7).contains(site) && (1000..<1010).contains(minute) ? requests / 2 : 0
                guard requests > 0 else { continue }
                observations.append(
                    SiteObservation(
                        site: String(format: "site%02d.example", site), requests: requests, errors: errors,
                        watched: watchingAll ? [Self.us: us, Self.de: de] : [Self.us: us]))
            }
            events += engine.step(minute: minute, observations: observations)
        }
        events += engine.finish()
        trace.finish()
        return (events, trace)
    }

    @Test("sites stepped on several threads raise the events and charts of one thread", arguments: [false, true])
    func parallelStepsMatchOneThread(watchingAll: Bool) {
        let one = Self.run(threads: 1, watchingAll: watchingAll)
        // 24 sites, 8 a thread at least: three threads step them.
        let three = Self.run(threads: 3, watchingAll: watchingAll)
        // Several kinds, raised at several sites in the same minutes: the ids' order is tested.
        let kinds = Set(one.events.map(\.kind))
        #expect(kinds == [.surge, .errorSpike, .drop], "\(one.events.map { ($0.kind, $0.site) })")
        #expect(Set(one.events.filter { $0.kind == .surge }.map(\.site)).count >= 3)
        let opened = one.events.filter { $0.state == .open }.map(\.id)
        #expect(opened == Array(1...opened.count), "numbered as raised")
        #expect(three.events == one.events)
        #expect(three.trace.surges.map(\.site) == one.trace.surges.map(\.site))
        #expect(three.trace.surges.map(\.values) == one.trace.surges.map(\.values))
        #expect(three.trace.surges.map(\.baselines) == one.trace.surges.map(\.baselines))
        #expect(three.trace.errors.map(\.site) == one.trace.errors.map(\.site))
        #expect(three.trace.errors.map(\.errors) == one.trace.errors.map(\.errors))
        #expect(three.trace.errors.map(\.baselines) == one.trace.errors.map(\.baselines))
        #expect(!one.trace.surges.isEmpty && !one.trace.errors.isEmpty)
    }

    /// The minutes of `run`'s day as `step(batch:)` is given them, with a site that first comes
    /// at minute 700, a site's minute given twice (the last counts), 40 minutes without a line
    /// at all, and a jump of nine days (which starts afresh) before the last hour.
    static func minutes(watchingAll: Bool) -> [(minute: Int32, observations: [SiteObservation])] {
        var random = SeededGenerator(seed: 29)
        func poisson(_ mean: Double) -> Int { NoiseModelTests.poisson(mean, &random) }
        var minutes: [(minute: Int32, observations: [SiteObservation])] = []
        for minute in Int32(0)..<1500 where !(1200..<1240).contains(minute) {
            var observations: [SiteObservation] = []
            for site in 0..<25 where site < 24 || minute >= 700 {
                let rate = Double(5 + site)
                var us = poisson(0.4 * rate), de = poisson(0.6 * rate)
                if (0..<3).contains(site), (900..<960).contains(minute) { us += poisson(4 * rate) }
                if (10..<12).contains(site), (1100..<1130).contains(minute) { (us, de) = (0, 0) }
                let requests = us + de
                let errors = (5..<7).contains(site) && (1000..<1010).contains(minute) ? requests / 2 : 0
                guard requests > 0 else { continue }
                let name = String(format: "site%02d.example", site)
                if site == 4, minute % 97 == 0 {
                    observations.append(SiteObservation(site: name, requests: 1000, errors: 0, watched: [Self.us: 1000]))
                }
                observations.append(
                    SiteObservation(
                        site: name, requests: requests, errors: errors,
                        watched: watchingAll ? [Self.us: us, Self.de: de] : [Self.us: us]))
            }
            minutes.append((minute >= 1440 ? minute + 9 * 1440 : minute, observations))
        }
        return minutes
    }

    @Test(
        "minutes stepped in batches, on one thread or three, raise the events and charts of stepping each in turn",
        arguments: [(1, false), (3, false), (3, true)])
    func batchesMatchStepByStep(threads: Int, watchingAll: Bool) {
        var configuration = DetectorConfiguration()
        configuration.watchesEveryCountry = watchingAll
        func engine(threads: Int) -> DetectionEngine {
            let engine = DetectionEngine(configuration: configuration)
            engine.threads = threads
            engine.trace = DetectionTrace(minutes: 0...Int32(11 * 1440), maximumColumns: 400)
            return engine
        }
        let minutes = Self.minutes(watchingAll: watchingAll)
        let single = engine(threads: 1)
        var expected: [AlertEvent] = []
        for (minute, observations) in minutes { expected += single.step(minute: minute, observations: observations) }
        expected += single.finish()
        // Batches of 1 to 300 minutes, cut anywhere (a surge raised and closed within one).
        let batched = engine(threads: threads)
        var random = SeededGenerator(seed: 5)
        var events: [AlertEvent] = []
        var next = 0
        while next < minutes.count {
            let size = Int.random(in: 1...300, using: &random)
            events += batched.step(batch: Array(minutes[next..<min(next + size, minutes.count)]))
            next += size
        }
        events += batched.finish()
        let kinds = Set(expected.map(\.kind))
        #expect(kinds == [.surge, .errorSpike, .drop], "\(expected.map { ($0.kind, $0.site) })")
        #expect(events == expected)
        let opened = expected.filter { $0.state == .open }.map(\.id)
        #expect(opened == Array(1...opened.count), "numbered as raised")
        #expect(events.allSatisfy { $0.id > 0 })
        let (one, many) = (single.trace!, batched.trace!)
        #expect(many.surges.map(\.site) == one.surges.map(\.site))
        #expect(many.surges.map(\.values) == one.surges.map(\.values))
        #expect(many.surges.map(\.baselines) == one.surges.map(\.baselines))
        #expect(many.errors.map(\.errors) == one.errors.map(\.errors))
        #expect(many.errors.map(\.baselines) == one.errors.map(\.baselines))
        #expect(batched.snapshot() == single.snapshot())
    }

    @Test("a surge of a country checked by share is numbered without site totals (the events name no country)")
    func surgeByShareWithoutSiteTotals() {
        var configuration = DetectorConfiguration()
        configuration.watchesEveryCountry = true
        let engine = DetectionEngine(configuration: configuration, hasSiteTotals: false)
        var events: [AlertEvent] = []
        // DE, checked by its share of the site, ×20 for 40 minutes on the third day.
        for minute in Int32(0)..<(3 * 1440) {
            let surge = minute >= 2 * 1440 + 600 && minute < 2 * 1440 + 640
            let de = surge ? 200 : 10 + Int(minute % 3), us = 40 + Int(minute % 5)
            events += engine.step(
                minute: minute,
                observations: [SiteObservation(site: "a", requests: us + de, errors: 0, watched: [Self.us: us, Self.de: de])])
        }
        events += engine.finish()
        let surges = events.filter { $0.kind == .surge }
        #expect(surges.map(\.state) == [.open, .closed], "\(surges)")
        #expect(surges.map(\.id) == [1, 1])
        #expect(surges.allSatisfy { $0.country == nil })
    }
}
