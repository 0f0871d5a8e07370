import Foundation
import LogSurgeCore
import LogSurgeAggregate
import Testing

@testable import LogSurgeDetect

/// Countries checked by their share of the site (`--watch-country all`), stepped directly with
/// each minute's counts and clients: a site of four countries, one of them with most of it.
@Suite struct CountryShareTests {
    static let start: Int32 = 24_616_800  // 2016-11-01T00:00Z
    static let codes = ["CA", "IN", "MX", "GB"].map { CountryCode(isoCode: $0)! }
    static let shares = [0.62, 0.2, 0.1, 0.08]

    /// Alerts over `days` at about 300 requests a minute (a daily rhythm), each request its own
    /// client but for `crawler` (minute → country index and requests of `crawlers` clients,
    /// shared equally), with
    /// `factor` (minute, country index → a multiplier of its traffic: a crowd), every country
    /// checked by its share unless `watching` names some, and one request from each of
    /// `oneOffs` other countries in the first minutes.
    static func alerts(
        days: Int, watching: [String]? = nil, crawler: (Int) -> (Int, Int)? = { _ in nil },
        factor: (Int, Int) -> Double = { _, _ in 1 }, oneOffs: Int = 0, shares: [Double] = Self.shares,
        crawlers: Int = 1
    ) -> [AlertEvent] {
        var configuration = DetectorConfiguration()
        configuration.watchedCountries = (watching ?? []).map { CountryCode(isoCode: $0)! }
        configuration.watchesEveryCountry = watching == nil
        let engine = DetectionEngine(configuration: configuration)
        var random = SeededGenerator(seed: 12)
        var events: [AlertEvent] = []
        for minute in 0..<(days * 1440) {
            let rhythm = 1 + 0.5 * sin(Double(minute % 1440) / 1440 * 2 * .pi)
            var observation = SiteObservation(site: "s", requests: 0, errors: 0, watched: [:])
            for (index, code) in codes.enumerated() {
                var count = NoiseModelTests.poisson(300 * shares[index] * rhythm * factor(minute, index), &random)
                var clients = ClientFigures(distinct: count, busiest: count > 0 ? 1 : 0)
                if let (crawling, requests) = crawler(minute), crawling == index {
                    count += requests
                    clients = ClientFigures(distinct: clients.distinct + crawlers, busiest: requests / crawlers)
                }
                observation.requests += count
                observation.watched[code] = count
                if count > 0 { observation.watchedClients[code] = clients }
            }
            if minute < oneOffs {
                let code = Self.others[minute]
                observation.requests += 1
                observation.watched[code] = 1
                observation.watchedClients[code] = ClientFigures(distinct: 1, busiest: 1)
            }
            events += engine.step(minute: start + Int32(minute), observations: [observation])
        }
        return events + engine.finish()
    }

    /// Codes of none of the four countries, in order.
    static let others: [CountryCode] = (65...90).flatMap { first in
        (65...90).compactMap { second in CountryCode(asciiFirst: UInt8(first), second: UInt8(second)) }
    }.filter { !codes.contains($0) }

    static func opened(_ events: [AlertEvent]) -> [String] {
        events.filter { $0.state == .open && $0.kind == .surge }.map { "\($0.country!) day \(Int($0.start - start) / 1440)" }
    }

    @Test("a crowd of the country with most of the site's traffic (62 %) is raised by share")
    func theDominantCountry() {
        let crowd: (Int, Int) -> Double = { minute, index in
            let during = minute >= 2 * 1440 + 600 && minute < 2 * 1440 + 660
            return index == 0 && during ? 5 : 1
        }
        let events = Self.alerts(days: 3, factor: crowd)
        #expect(Self.opened(events) == ["CA day 2"], "\(events)")
    }

    @Test("a crawler on the site's first day does not become its country's share, which then hid that country's crowds")
    func aCrawlerOnTheFirstDay() {
        let crawler: (Int) -> (Int, Int)? = { minute in minute >= 540 && minute < 840 ? (3, 400) : nil }
        let crowd: (Int, Int) -> Double = { minute, index in
            let during = minute >= 2 * 1440 + 600 && minute < 2 * 1440 + 660
            return index == 3 && during ? 6 : 1
        }
        let events = Self.alerts(days: 3, crawler: crawler, factor: crowd)
        #expect(Self.opened(events) == ["GB day 2"], "\(events)")
        // Without the crowd, the crawler's day raises no surge of its own either.
        #expect(Self.opened(Self.alerts(days: 3, crawler: crawler)).isEmpty)
    }

    @Test(
        "a site that goes down during a surge (election night: the rush, then the outage) raises its drop within minutes",
        arguments: [["IN"], nil])
    func anOutageDuringASurge(watching: [String]?) {
        let rush = 2 * 1440 + 1080, outage = rush + 40
        let factor: (Int, Int) -> Double = { minute, index in
            if minute >= outage && minute < outage + 20 { return 0 }
            return index == 1 && minute >= rush && minute < rush + 90 ? 8 : 1
        }
        let events = Self.alerts(days: 3, watching: watching, factor: factor)
        let outageStart = Self.start + Int32(outage)
        let surge = events.first { $0.state == .open && $0.kind == .surge && $0.country?.description == "IN" }
        #expect(surge.map { $0.raisedAt < outageStart } == true, "\(events)")
        let drop = events.first { $0.state == .open && $0.kind == .drop }
        #expect(drop.map { $0.raisedAt <= outageStart + 5 && $0.start >= outageStart } == true, "\(events)")
    }

    @Test("two crawlers at 100 requests a minute each for four hours raise no surge (their hours do not thin the usual clients)")
    func twoCrawlersForHours() {
        // GB (8 %, 24 a minute) crawled by two clients, 200 requests a minute between them, and
        // near the end of it three minutes of twice GB's usual visitors: ordinary (×2 for three
        // minutes is no surge) but for the crawl, learnt, thinning the usual clients per request
        // until the two crawlers and a few more visitors looked like a crowd.
        let crawler: (Int) -> (Int, Int)? = { minute in minute >= 2 * 1440 + 600 && minute < 2 * 1440 + 840 ? (3, 200) : nil }
        let busier: (Int, Int) -> Double = { minute, index in
            index == 3 && minute >= 2 * 1440 + 830 && minute < 2 * 1440 + 833 ? 2 : 1
        }
        for watching in [["GB"], nil] {
            let events = Self.alerts(days: 3, watching: watching, crawler: crawler, factor: busier, crawlers: 2)
            #expect(Self.opened(events).isEmpty, "\(watching ?? ["all"]): \(Self.opened(events))")
        }
    }

    @Test("one request each from 200 countries on a site's first day does not slow the raising of a crowd days later")
    func oneOffCountriesDoNotDilute() {
        // GB (1 %, 3 requests a minute) rising to ×6 over 40 minutes on day 3: raised when its
        // evidence passes the significance over the countries checked (1e-7 / 4, not 1e-7 /
        // 204: those that sent one request three days before are not checked any more).
        let crowd: (Int, Int) -> Double = { minute, index in
            let elapsed = minute - (3 * 1440 + 600)
            return index == 3 && elapsed >= 0 && elapsed < 120 ? 1 + 5 * min(1, Double(elapsed + 1) / 40) : 1
        }
        func raised(oneOffs: Int) -> Int32? {
            Self.alerts(days: 4, factor: crowd, oneOffs: oneOffs, shares: [0.62, 0.2, 0.17, 0.01]).first {
                $0.state == .open && $0.kind == .surge
            }?.raisedAt
        }
        let alone = raised(oneOffs: 0)
        #expect(alone != nil)
        #expect(raised(oneOffs: 200) == alone)
    }

    @Test("the countries counted are those of today and yesterday, each once, and the snapshot keeps them")
    func recentCountries() throws {
        var recent = RecentCountries()
        #expect(recent.count(on: 0) == 0)
        recent.note(CountryCode(isoCode: "MX")!, day: 5)
        recent.note(CountryCode(isoCode: "MX")!, day: 5)
        recent.note(CountryCode(isoCode: "ZZ")!, day: 5)
        recent.note(CountryCode(isoCode: "AA")!, day: 6)
        #expect(recent.count(on: 6) == 3)
        #expect(recent.count(on: 7) == 1)
        #expect(recent.count(on: 8) == 0)
        recent.note(CountryCode(isoCode: "GB")!, day: 7)
        #expect(recent.count(on: 7) == 2)
        recent.note(CountryCode(isoCode: "GB")!, day: 9)
        #expect(recent.count(on: 9) == 1)
        var writer = SnapshotWriter()
        recent.write(to: &writer)
        var reader = SnapshotReader(writer.bytes)
        #expect(try RecentCountries(from: &reader) == recent)
    }
}
