import Foundation
import LogSurge
import LogSurgeCore
import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeGenerate
import LogSurgePipelineTestSupport
import LogSurgeReport
import Testing

/// `--watch-country all`: every country of every site checked by its share of the site, on
/// generated lines read through the whole pipeline (clients counted from the lines).
@Suite struct EveryCountryTests {
    static let start = UTCMinute.parse("2016-11-01T00:00Z")!
    static func minute(_ day: Int, _ hour: Int) -> Int32 { start + Int32(day * 1440 + hour * 60) }
    static let mexico = CountryCode(isoCode: "MX")!

    static let everyCountry: DetectorConfiguration = {
        var configuration = DetectorConfiguration()
        configuration.watchedCountries = []
        configuration.watchesEveryCountry = true
        return configuration
    }()

    /// Two and a half days of over-dispersed traffic with crawlers from three countries, and a
    /// crowd from Mexico (×10 for an hour in its afternoon, 3 % of the site's traffic).
    static let analysis: Analysis = {
        let events = [
            InjectedEvent(kind: .crawler(country: "FR", rate: 300), onset: minute(1, 12), duration: 30),
            InjectedEvent(kind: .crawler(country: "BR", rate: 60), onset: minute(1, 16), duration: 180, ramp: 20),
            InjectedEvent(kind: .crawler(country: "DE", rate: 600), onset: minute(2, 2), duration: 10),
            InjectedEvent(kind: .surge(country: "MX", factor: 10), onset: minute(1, 22), duration: 60, ramp: 5),
        ]
        let log = Support.generatedLog(minutes: 2 * 1440 + 600, rate: 300, seed: 31, events: events, dispersion: 0.02)
        let path = Support.temporaryDirectory().appendingPathComponent("countries.log").path
        try! Support.writeFile(path, Data(log))
        return Support.analyze([path])
    }()

    @Test("a crowd from a country nobody named is raised, and no crawler of any country is")
    func aCrowdFromAnyCountry() throws {
        let analysis = Self.analysis
        let alerts = DetectionRun(DetectionPolicy(detectors: Self.everyCountry)).run(analysis.buckets).events
        let opened = alerts.filter { $0.state == .open }
        try #require(opened.count == 1, "\(alerts.map(AlertWriter.line).joined())")
        let surge = opened[0]
        #expect(surge.kind == .surge && surge.country == Self.mexico)
        #expect(surge.raisedAt - Self.minute(1, 22) <= 10)
        let closed = try #require(alerts.first { $0.state == .closed && $0.id == surge.id })
        #expect((closed.clients ?? 0) >= 30 && (closed.topClientShare ?? 1) < 0.2)
        // Watching the US alone (the default), the same log raises nothing.
        #expect(DetectionRun(DetectionPolicy()).run(analysis.buckets).events.isEmpty)
    }

    @Test("a rise of the whole site (every country ×4 for two hours) is no country's surge")
    func aRiseOfTheWholeSite() {
        let rise = InjectedEvent(kind: .surge(country: nil, factor: 4), onset: Self.minute(2, 12), duration: 120)
        let log = Support.generatedLog(minutes: 2 * 1440 + 900, rate: 200, seed: 23, events: [rise])
        let path = Support.temporaryDirectory().appendingPathComponent("everywhere.log").path
        try! Support.writeFile(path, Data(log))
        let alerts = DetectionRun(DetectionPolicy(detectors: Self.everyCountry)).run(Support.analyze([path]).buckets).events
        #expect(!alerts.contains { $0.kind == .surge }, "\(alerts.map(AlertWriter.line).joined())")
    }

    @Test("a country named beside all keeps its own history; the report says what was watched")
    func namedBesideAll() throws {
        var configuration = Self.everyCountry
        configuration.watchedCountries = [Self.mexico]
        let alerts = DetectionRun(DetectionPolicy(detectors: configuration)).run(Self.analysis.buckets).events
        #expect(alerts.filter { $0.state == .open }.map(\.country) == [Self.mexico], "\(alerts.map(AlertWriter.line).joined())")
        #expect(configuration.watchedDescription == "every country (MX with a history of its own)")
        #expect(Self.everyCountry.watchedDescription == "every country")
        #expect(DetectorConfiguration().watchedDescription == "US")
    }

    @Test("the countries checked are bounded: beyond the bound they are counted, not checked")
    func countryTracksAreBounded() throws {
        var configuration = Self.everyCountry
        configuration.maximumCountryTracks = 3
        let outcome = DetectionRun(DetectionPolicy(detectors: configuration)).run(Self.analysis.buckets)
        // The generator's profile has 21 countries; all of them visit in two days.
        #expect(outcome.countriesNotChecked == 18)
        #expect(DetectionRun(DetectionPolicy(detectors: Self.everyCountry)).run(Self.analysis.buckets).countriesNotChecked == 0)
    }
}
