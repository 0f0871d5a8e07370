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
    /// client but for `crawler` (minute → country index and requests of one client), with
    /// `factor` (minute, country index → a multiplier of its traffic: a crowd), every country
    /// checked by its share unless `watching` names some.
    static func alerts(
        days: Int, watching: [String]? = nil, crawler: (Int) -> (Int, Int)? = { _ in nil },
        factor: (Int, Int) -> Double = { _, _ in 1 }
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
                    clients = ClientFigures(distinct: clients.distinct + 1, busiest: requests)
                }
                observation.requests += count
                observation.watched[code] = count
                if count > 0 { observation.watchedClients[code] = clients }
            }
            events += engine.step(minute: start + Int32(minute), observations: [observation])
        }
        return events + engine.finish()
    }

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
}
