import Foundation
import Testing
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
@testable import LogSurgeDetect

/// Sites with too few requests for a minute to say anything are checked at longer steps
/// (`SiteSteps`), each step length by an engine of its own, in one run of finished buckets.
@Suite struct SiteStepsTests {
    static let us = CountryCode(isoCode: "US")!
    static let de = CountryCode(isoCode: "DE")!

    /// Some of a run's events.
    struct Outcome { var events: [AlertEvent] }

    @Test("a site's step is the shortest that holds 4 of its requests, 60 minutes at most")
    func stepLengths() {
        #expect(SiteSteps.stepMinutes(requests: 4 * 1440, activeHours: 24) == 1)
        #expect(SiteSteps.stepMinutes(requests: 4 * 1440 - 1, activeHours: 24) == 5)
        #expect(SiteSteps.stepMinutes(requests: 1152, activeHours: 24) == 5)  // 0.8 a minute: 4 in 5
        #expect(SiteSteps.stepMinutes(requests: 1151, activeHours: 24) == 15)
        #expect(SiteSteps.stepMinutes(requests: 96, activeHours: 24) == 60)  // 4 an hour
        #expect(SiteSteps.stepMinutes(requests: 24, activeHours: 24) == 60)
        // Under a day of hours with requests, a minute: a longer step would mostly be cut short.
        #expect(SiteSteps.stepMinutes(requests: 23, activeHours: 23) == 1)
        // Steps are whole multiples of their length, before 1970 too.
        #expect(SiteSteps.stepStart(125, length: 60) == 120)
        #expect(SiteSteps.stepStart(120, length: 60) == 120)
        #expect(SiteSteps.stepStart(-1, length: 60) == -60)
        #expect(SiteSteps.stepStart(59, length: 5) == 55)
        // Only a span of a day or more, with a site below 4 a minute over it, is looked at.
        #expect(!SiteSteps.anyMayBeQuiet(requests: [3], span: 0...1438))
        #expect(!SiteSteps.anyMayBeQuiet(requests: [4 * 1440], span: 0...1439))
        #expect(SiteSteps.anyMayBeQuiet(requests: [4 * 1440, 1], span: 0...1439))
    }

    /// The tally of `clients`, a request each, as a worker counts one chunk.
    static func tally(_ clients: [UInt64]) -> ClientTally {
        var counter = ClientCounter(initialCapacity: 16)
        for client in clients { counter.add(entry: 0, client: client) }
        return counter.drain(entryCount: 1)[0]
    }

    static func counts(_ requests: Int, errors: Int = 0) -> BucketCounts {
        BucketCounts(
            requests: UInt64(requests), status2xx: UInt64(requests - errors), status3xx: 0, status4xx: 0,
            status5xx: UInt64(errors), bytes: 0)
    }

    /// Ten days from minute 0 of up to three sites: `busy.example` (20 requests a minute, 40 %
    /// from the US, a 5xx spike on day 8, down for three hours on day 9 and for the last three),
    /// `quiet.example` (0.5 a minute from distinct clients,
    /// a US crowd of 2 more a minute for three hours on day 9) and `crawled.example` (as quiet,
    /// with one US client sending 2 a minute for those three hours: a crawler, no crowd).
    static func buckets(sites: Set<String>) -> MinuteBuckets {
        // A generator a site: each site's counts are the same whichever others are made.
        var randoms = ["busy.example", "quiet.example", "crawled.example"].enumerated().map {
            SeededGenerator(seed: 41 + UInt64($0.offset))
        }
        var current = 0
        func poisson(_ mean: Double) -> Int { NoiseModelTests.poisson(mean, &randoms[current]) }
        var nextClient: UInt64 = 1
        func clients(_ count: Int) -> [UInt64] {
            (0..<count).map { _ in
                nextClient += 1
                return ClientTally.identity(high: 0, low: 0xFFFF_0000_0000 | nextClient)
            }
        }
        let crawler = ClientTally.identity(high: 0, low: 0xFFFF_0A00_0001)
        let surge = (8 * 1440 + 600)..<(8 * 1440 + 780)
        var buckets = MinuteBuckets()
        for minute in 0..<(10 * 1440) {
            let at = Int32(minute)
            if sites.contains("busy.example") {
                current = 0
                // Outages: during the quiet site's crowd, and the last three hours.
                let down = (8 * 1440 + 700..<8 * 1440 + 880).contains(minute) || minute >= 10 * 1440 - 180
                let us = down ? 0 : poisson(8), de = down ? 0 : poisson(12)
                let spike = (7 * 1440 + 300..<7 * 1440 + 320).contains(minute)
                if us > 0 {
                    buckets.add(minute: at, site: "busy.example", country: Self.us, counts: counts(us, errors: spike ? us / 2 : 0))
                }
                if de > 0 {
                    buckets.add(minute: at, site: "busy.example", country: Self.de, counts: counts(de, errors: spike ? de / 2 : 0))
                }
            }
            for (index, site) in ["quiet.example", "crawled.example"].enumerated() where sites.contains(site) {
                current = index + 1
                let us = poisson(0.2) + (site == "quiet.example" && surge.contains(minute) ? poisson(2) : 0)
                let crawled = site == "crawled.example" && surge.contains(minute) ? 2 : 0
                let de = poisson(0.3)
                if us + crawled > 0 {
                    buckets.add(
                        minute: at, site: site, country: Self.us, counts: counts(us + crawled),
                        clients: tally(clients(us) + Array(repeating: crawler, count: crawled)))
                }
                if de > 0 { buckets.add(minute: at, site: site, country: Self.de, counts: counts(de), clients: tally(clients(de))) }
            }
        }
        return buckets
    }

    /// A run of `buckets`; with `longerSteps` false, every site a minute at a time (as before
    /// quiet sites had steps of their own).
    static func run(_ buckets: MinuteBuckets, threads: Int = 1, longerSteps: Bool = true) -> DetectionRun.Outcome {
        DetectionRun(DetectionPolicy(traceColumns: 240, threads: threads, quietSitesAtLongerSteps: longerSteps)).run(buckets)
    }

    @Test("a quiet site's crowd is found at its own step; a busy site's alerts are as a minute at a time")
    func quietSitesAtLongerSteps() throws {
        let all = Self.run(Self.buckets(sites: ["busy.example", "quiet.example", "crawled.example"]))
        #expect(all.sitesByStep.map(\.stepMinutes) == [1, 15])
        #expect(all.sitesByStep.map(\.sites) == [1, 2])
        let openings = all.events.filter { $0.state == .open }
        // The crowd at the quiet site: raised on a 15-minute step, within the three hours.
        let crowd = try #require(openings.first { $0.site == "quiet.example" && $0.kind == .surge }, "\(openings)")
        #expect(crowd.stepMinutes == 15)
        #expect(crowd.start % 15 == 0 && (crowd.raisedAt + 1) % 15 == 0 && crowd.peakMinute % 15 == 0)
        #expect((8 * 1440 + 600..<8 * 1440 + 780).contains(Int(crowd.raisedAt)))
        #expect(crowd.peakRequests > 20, "a step's requests, not a minute's")
        // One client at the other, the same three hours: a crawler over the step's minutes, no crowd.
        #expect(!openings.contains { $0.site == "crawled.example" && $0.kind == .surge }, "\(openings)")
        // The busy site: what it raises when every site is checked a minute at a time, in the
        // same order. (Its last three hours' silence is seen through the quiet sites' lines.)
        let minutes = Self.run(Self.buckets(sites: ["busy.example", "quiet.example", "crawled.example"]), longerSteps: false)
        #expect(minutes.sitesByStep.isEmpty)
        let alone = Outcome(events: minutes.events.filter { $0.site == "busy.example" })
        #expect(alone.events.contains { $0.kind == .errorSpike })
        #expect(alone.events.filter { $0.kind == .drop && $0.state == .open }.count == 2, "\(alone.events)")
        func withoutIDs(_ events: [AlertEvent]) -> [AlertEvent] {
            events.map {
                var event = $0
                event.id = 0
                return event
            }
        }
        #expect(withoutIDs(all.events.filter { $0.site == "busy.example" }) == withoutIDs(alone.events))
        #expect(alone.events.allSatisfy { $0.stepMinutes == 1 })
        // Numbered in the order reported, whichever engine raised them; openings in the order of
        // the minutes that decided them.
        let ids = openings.map(\.id)
        #expect(ids == Array(1...ids.count))
        #expect(openings.map(\.raisedAt) == openings.map(\.raisedAt).sorted())
        for closing in all.events where closing.state == .closed {
            #expect(openings.contains { $0.id == closing.id && $0.site == closing.site && $0.kind == closing.kind })
        }
        // The charts hold both sites' series.
        let trace = try #require(all.trace)
        #expect(trace.surge(site: "quiet.example", country: Self.us) != nil)
        #expect(trace.surge(site: "busy.example", country: Self.us) != nil)
        // Two threads: the same.
        #expect(Self.run(Self.buckets(sites: ["busy.example", "quiet.example", "crawled.example"]), threads: 2).events == all.events)
    }

    @Test("many quiet sites: what one thread raises, two (the builder stepping some of the stepper's sites) and three raise")
    func manyQuietSitesAnyThreads() throws {
        // 24 sites of half a request a minute over four days (one class of 15-minute steps,
        // enough sites for the stepper's jobs), crowds at five of them and a 5xx burst at one.
        var random = SeededGenerator(seed: 17)
        var buckets = MinuteBuckets()
        var client: UInt64 = 0
        for minute in 0..<(4 * 1440) {
            for site in 0..<24 {
                let crowd = site % 5 == 0 && (3 * 1440 + 100 * (site / 5)..<3 * 1440 + 100 * (site / 5) + 180).contains(minute)
                let us = NoiseModelTests.poisson(0.3, &random) + (crowd ? NoiseModelTests.poisson(2, &random) : 0)
                guard us > 0 else { continue }
                let burst = site == 7 && (3 * 1440 + 600..<3 * 1440 + 660).contains(minute)
                let clients = (0..<us).map { _ in
                    client += 1
                    return ClientTally.identity(high: 0, low: 0xFFFF_0000_0000 | client)
                }
                buckets.add(
                    minute: Int32(minute), site: "q\(site).example", country: Self.us,
                    counts: Self.counts(us, errors: burst ? us : 0), clients: Self.tally(clients))
            }
        }
        let one = Self.run(buckets)
        #expect(one.sitesByStep.map(\.stepMinutes) == [15] && one.sitesByStep.map(\.sites) == [24])
        let raised = Set(one.events.filter { $0.state == .open }.map { "\($0.site) \($0.kind)" })
        #expect(raised.isSuperset(of: ["q0.example surge", "q5.example surge", "q10.example surge", "q7.example errorSpike"]), "\(raised)")
        for threads in [2, 3] {
            let other = Self.run(buckets, threads: threads)
            #expect(other.events == one.events, "\(threads) threads")
            #expect(other.trace?.surges.map(\.values) == one.trace?.surges.map(\.values), "\(threads) threads")
            #expect(other.trace?.surges.map(\.baselines) == one.trace?.surges.map(\.baselines), "\(threads) threads")
            #expect(other.trace?.errors.map(\.errors) == one.trace?.errors.map(\.errors), "\(threads) threads")
        }
    }

    @Test("a step the input ends inside is not decided: nothing ends after the last minute read")
    func lastStepCutShort() throws {
        var random = SeededGenerator(seed: 3)
        var buckets = MinuteBuckets()
        var client: UInt64 = 0
        // Three days of a quiet site less 23 minutes, a crowd in its last two hours.
        let last = 3 * 1440 - 24
        for minute in 0...last {
            let us = NoiseModelTests.poisson(minute > last - 120 ? 3 : 0.3, &random)
            guard us > 0 else { continue }
            let clients = (0..<us).map { _ in
                client += 1
                return ClientTally.identity(high: 0, low: 0xFFFF_0000_0000 | client)
            }
            buckets.add(
                minute: Int32(minute), site: "quiet.example", country: Self.us, counts: Self.counts(us), clients: Self.tally(clients))
        }
        let outcome = Self.run(buckets)
        #expect(outcome.sitesByStep.map(\.stepMinutes) == [15])
        let surge = try #require(outcome.events.last { $0.kind == .surge }, "\(outcome.events)")
        #expect(surge.closedAtEndOfInput)
        for event in outcome.events {
            #expect(event.raisedAt <= Int32(last) && (event.end ?? 0) <= Int32(last), "\(event)")
        }
    }

    @Test("a step longer than a chart's column is spread over its columns")
    func longStepsSpreadOverColumns() {
        // Two hours a minute a column; a quiet site's hourly step of 60 requests, half expected.
        let trace = DetectionTrace(minutes: 0...119, maximumColumns: 120)
        let slot = trace.surgeSlot(site: "quiet.example", country: Self.us)
        trace.surge(slot: slot, minute: 0, minutes: 60, count: 60, baseline: 30)
        let errors = trace.errorSlot(site: "quiet.example")
        trace.errors(slot: errors, minute: 60, minutes: 60, requests: 120, errors: 6, baselineShare: 0.01)
        let surge = trace.surges[slot]
        #expect(surge.values == Array(repeating: 1, count: 60) + Array(repeating: 0, count: 60))
        #expect(surge.peaks.prefix(60).allSatisfy { $0 == 1 })
        #expect(surge.baselines.prefix(60).allSatisfy { $0 == 0.5 } && surge.baselines.suffix(60).allSatisfy { $0 == nil })
        #expect(trace.errors[errors].requests == Array(repeating: 0, count: 60) + Array(repeating: 2, count: 60))
        #expect(trace.errors[errors].shares.suffix(60).allSatisfy { $0 == 0.05 })
        // A step that starts before the trace: its minutes inside it only.
        let late = DetectionTrace(minutes: 30...89, maximumColumns: 60)
        let lateSlot = late.surgeSlot(site: "quiet.example", country: Self.us)
        late.surge(slot: lateSlot, minute: 0, minutes: 60, count: 60, baseline: nil)
        #expect(late.surges[lateSlot].values == Array(repeating: 1, count: 30) + Array(repeating: 0, count: 30))
    }

    @Test("each site's hours as the spills counted them, or from the rows when runs overlap in time: the same steps")
    func hoursCountedAsBucketsSpill() throws {
        let source = Self.buckets(sites: ["busy.example", "quiet.example", "crawled.example"])
        func late(_ buckets: inout MinuteBuckets) {
            buckets.add(minute: 5, site: "quiet.example", country: Self.de, counts: Self.counts(1), clients: Self.tally([7]))
        }
        // The same buckets three ways: in memory; spilled in time order; and spilled with an
        // early minute after the rest (its run overlaps the others: the hours are unknown).
        var held = source
        late(&held)
        var inOrder = MinuteBuckets(spillThreshold: 500)
        late(&inOrder)
        inOrder.merge(source)
        var overlapping = MinuteBuckets(spillThreshold: 500)
        overlapping.merge(source)
        late(&overlapping)
        #expect(inOrder.hasSpilled && overlapping.hasSpilled && !held.hasSpilled)
        // By name: the sites' indices are in the order each first saw them.
        func byName(_ buckets: MinuteBuckets) -> [String: Int]? {
            buckets.siteActiveHours().map { Dictionary(uniqueKeysWithValues: zip(buckets.siteNames, $0)) }
        }
        let hours = try #require(byName(inOrder))
        #expect(overlapping.siteActiveHours() == nil)
        #expect(byName(held) == hours)
        #expect(hours.values.allSatisfy { $0 > 24 * 9 }, "\(hours): most hours of ten days")
        let expected = Self.run(held)
        #expect(expected.sitesByStep.map(\.stepMinutes) == [1, 15])
        for buckets in [inOrder, overlapping] {
            let outcome = Self.run(buckets)
            #expect(outcome.events == expected.events)
            #expect(outcome.sitesByStep.map(\.stepMinutes) == expected.sitesByStep.map(\.stepMinutes))
            #expect(outcome.sitesByStep.map(\.sites) == expected.sitesByStep.map(\.sites))
        }
    }

    @Test("a line of a bogus date leaves every site's step as it was; a site not checked is not counted")
    func bogusDatesAndSitesNotChecked() {
        var buckets = Self.buckets(sites: ["busy.example"])
        let alone = Self.run(buckets)
        // A year on, another site's one line: the span is a year, the busy site's hours are not.
        buckets.add(minute: 10 * 1440 + 525_600, site: "other.example", country: Self.us, counts: Self.counts(1))
        let withBogus = Self.run(buckets)
        #expect(withBogus.sitesByStep.isEmpty)
        #expect(
            withBogus.events.filter { $0.site == "busy.example" && $0.closedAtEndOfInput == false }
                == alone.events.filter { !$0.closedAtEndOfInput })
        // Two sites checked of three: the busiest two, one of them quiet.
        var configuration = DetectorConfiguration()
        configuration.maximumSites = 2
        let two = DetectionRun(DetectionPolicy(detectors: configuration)).run(
            Self.buckets(sites: ["busy.example", "quiet.example", "crawled.example"]))
        #expect(two.sitesByStep.map(\.sites) == [1, 1])
        #expect(Set(two.events.map(\.site)).count <= 2)
    }
}
