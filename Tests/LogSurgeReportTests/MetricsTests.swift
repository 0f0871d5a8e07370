import Foundation
import LogSurgePipelineTestSupport
import LogSurge
import Testing
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
@testable import LogSurgeDetect
@testable import LogSurgeReport

@Suite struct MetricsWriterTests {
    private func counts(_ requests: UInt64, errors: UInt64 = 0, odd: UInt64 = 0) -> BucketCounts {
        BucketCounts(
            requests: requests, status2xx: requests - errors - odd, status3xx: 0, status4xx: 0, status5xx: errors, bytes: requests * 10)
    }

    private let us = CountryCode(isoCode: "US")!

    @Test(arguments: [
        ("plain", "\"plain\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("trailing\\", "\"trailing\\\\\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("two\nlines", "\"two\\nlines\""),
        ("cr\r\nlf", "\"cr\r\\nlf\""),  // only \, " and LF are escaped
        ("{a=\"b\",c}", "\"{a=\\\"b\\\",c}\""),
        ("caf\u{E9}", "\"caf\u{E9}\""),
    ])
    func labelValuesAreEscapedAsTheFormatSays(value: String, escaped: String) throws {
        #expect(Escaping.prometheusLabel(value) == escaped)
        // And read back whole by a strict reader.
        let parsed = try Exposition("m{l=\(escaped)} 1\n")
        #expect(parsed.samples.first?.labels["l"] == value)
    }

    @Test func sumsMatchAndOddStatusesCountAsOther() throws {
        let snapshot = MetricsSnapshot(
            counts: ["a": [us: counts(10, errors: 3, odd: 2), .unknown: counts(5)]],
            accounting: RunAccounting(), lastMinute: 100, alerts: [])
        var writer = MetricsWriter()
        let text = try Exposition(writer.exposition(snapshot))
        let requests = text.series("logsurge_requests_total")
        #expect(requests[["site": "a", "country": "US", "status_class": "5xx"]] == 3)
        #expect(requests[["site": "a", "country": "US", "status_class": "other"]] == 2)
        #expect(requests[["site": "a", "country": "--", "status_class": "2xx"]] == 5)
        #expect(requests.count == 10)  // two countries × five classes, zeros included
        #expect(text.total("logsurge_requests_total") == 15)
        #expect(text.series("logsurge_last_minute_timestamp_seconds")[[:]] == 6000)
        #expect(text.series("logsurge_response_bytes_total")[["site": "a"]] == 150)
    }

    @Test func capsFoldTheQuietestIntoOtherAndKeepWatchedCountries() throws {
        var configuration = MetricsConfiguration()
        configuration.maximumSites = 2
        configuration.maximumCountriesPerSite = 1
        let (de, fr) = (CountryCode(isoCode: "DE")!, CountryCode(isoCode: "FR")!)
        let snapshot = MetricsSnapshot(
            counts: [
                "big": [de: counts(100), fr: counts(50), us: counts(1)],
                "mid": [fr: counts(60)],
                "small": [de: counts(7)],
                "other": [de: counts(3)],  // a site really named "other" meets the folded ones
            ], accounting: RunAccounting(), lastMinute: nil, alerts: [])
        var writer = MetricsWriter(configuration: configuration)
        let text = try Exposition(writer.exposition(snapshot))
        let requests = text.series("logsurge_requests_total").filter { $0.key["status_class"] == "2xx" }
        #expect(
            requests == [
                ["site": "big", "country": "DE", "status_class": "2xx"]: 100,
                ["site": "big", "country": "US", "status_class": "2xx"]: 1,
                ["site": "big", "country": "other", "status_class": "2xx"]: 50,
                ["site": "mid", "country": "FR", "status_class": "2xx"]: 60,
                ["site": "mid", "country": "US", "status_class": "2xx"]: 0,
                ["site": "other", "country": "DE", "status_class": "2xx"]: 10,
                ["site": "other", "country": "US", "status_class": "2xx"]: 0,
            ])
        #expect(text.total("logsurge_requests_total") == 221)
        #expect(text.samples.allSatisfy { $0.value.isFinite })
    }

    @Test func labelsChosenOnceStaySoCountersNeverGoDown() throws {
        var configuration = MetricsConfiguration()
        configuration.maximumSites = 2
        configuration.maximumCountriesPerSite = 1
        let (de, fr) = (CountryCode(isoCode: "DE")!, CountryCode(isoCode: "FR")!)
        var writer = MetricsWriter(configuration: configuration)
        let first = try Exposition(
            writer.exposition(
                MetricsSnapshot(
                    counts: ["a": [de: counts(10), fr: counts(1)], "b": [de: counts(5)], "c": [de: counts(1)]],
                    accounting: RunAccounting(), lastMinute: 1, alerts: [])))
        // Later, c and FR become the busiest: they stay folded, and nothing decreases.
        let second = try Exposition(
            writer.exposition(
                MetricsSnapshot(
                    counts: ["a": [de: counts(11), fr: counts(500)], "b": [de: counts(5)], "c": [de: counts(900)], "d": [de: counts(1)]],
                    accounting: RunAccounting(), lastMinute: 2, alerts: [])))
        let before = first.series("logsurge_requests_total"), after = second.series("logsurge_requests_total")
        for (labels, value) in before {
            #expect((after[labels] ?? -1) >= value, "\(labels)")
        }
        #expect(Set(after.keys.map { $0["site"]! }) == ["a", "b", "other"])
        #expect(after[["site": "a", "country": "other", "status_class": "2xx"]] == 500)
        #expect(after[["site": "other", "country": "DE", "status_class": "2xx"]] == 901)
        // A run written once labels simply the busiest.
        var fresh = MetricsWriter(configuration: configuration)
        let once = try Exposition(
            fresh.exposition(
                MetricsSnapshot(
                    counts: ["a": [de: counts(11), fr: counts(500)], "b": [de: counts(5)], "c": [de: counts(900)], "d": [de: counts(1)]],
                    accounting: RunAccounting(), lastMinute: 2, alerts: [])))
        #expect(Set(once.series("logsurge_requests_total").keys.map { $0["site"]! }) == ["a", "c", "other"])
    }

    private func event(_ id: Int, _ state: AlertEvent.State, _ kind: AlertEvent.Kind, site: String, atEnd: Bool = false) -> AlertEvent {
        var event = AlertEvent(
            id: id, state: state, kind: kind, site: site, country: kind == .surge ? us : nil, start: 10,
            raisedAt: 11, end: state == .closed ? 20 : nil, peakMinute: 12, peakRequests: 50)
        event.closedAtEndOfInput = atEnd
        return event
    }

    @Test func alertActiveIsOneWhileAnEpisodeIsOpenOrWasStillOpenAtTheEnd() throws {
        let alerts = [
            event(1, .open, .surge, site: "a"),
            event(2, .open, .errorSpike, site: "a"),
            event(2, .closed, .errorSpike, site: "a"),  // closed by the detector: over
            event(3, .open, .surge, site: "b"),
            event(3, .closed, .surge, site: "b", atEnd: true),  // closed because the input ended
        ]
        let snapshot = MetricsSnapshot(
            counts: ["a": [us: counts(1)], "b": [us: counts(1)], "c": [us: counts(1)]],
            accounting: RunAccounting(), lastMinute: 20, alerts: alerts)
        var writer = MetricsWriter()
        let text = try Exposition(writer.exposition(snapshot))
        #expect(
            text.series("logsurge_alert_active") == [
                ["kind": "surge", "site": "a", "country": "US"]: 1,
                ["kind": "surge", "site": "b", "country": "US"]: 1,
                ["kind": "surge", "site": "c", "country": "US"]: 0,
                ["kind": "error_spike", "site": "a", "country": ""]: 0,
                ["kind": "error_spike", "site": "b", "country": ""]: 0,
                ["kind": "error_spike", "site": "c", "country": ""]: 0,
                ["kind": "drop", "site": "a", "country": ""]: 0,
                ["kind": "drop", "site": "b", "country": ""]: 0,
                ["kind": "drop", "site": "c", "country": ""]: 0,
            ])
        #expect(text.series("logsurge_alerts_total") == [["kind": "surge"]: 2, ["kind": "error_spike"]: 1, ["kind": "drop"]: 0])
        #expect(text.types["logsurge_alert_active"] == "gauge")
    }

    @Test func totalsBySiteAndCountryCountSpilledBucketsToo() throws {
        var buckets = MinuteBuckets(spillThreshold: 7)
        var expected: [String: [CountryCode: UInt64]] = [:]
        for i in 0..<500 {
            let site = ["x", "y", "z\\"][i % 3], country = CountryCode(rawValue: UInt16(0x4141 + i % 5))
            buckets.add(minute: Int32(i / 4), site: site, country: country, counts: counts(UInt64(i % 7 + 1)))
            expected[site, default: [:]][country, default: 0] += UInt64(i % 7 + 1)
        }
        #expect(buckets.hasSpilled)
        #expect(buckets.countsBySiteAndCountry().mapValues { $0.mapValues(\.requests) } == expected)
    }

    @Test(.enabled(if: Promtool.path != nil, "promtool is not installed (Debian: apt-get install prometheus)"))
    func promtoolAcceptsHostileLabelsAndCaps() throws {
        var configuration = MetricsConfiguration()
        configuration.maximumSites = 3
        let alerts = [event(1, .open, .surge, site: "quote\"back\\slash\nnewline")]
        let snapshot = MetricsSnapshot(
            counts: [
                "quote\"back\\slash\nnewline": [us: counts(9, errors: 2, odd: 1)], "{}=,#": [.unknown: counts(3)],
                "\u{65E5}\u{672C}": [us: counts(2)], "trail\\": [us: counts(1)],
            ], accounting: RunAccounting(), lastMinute: 29_000_000, alerts: alerts)
        var writer = MetricsWriter(configuration: configuration)
        let checked = try Promtool.checkMetrics(writer.exposition(snapshot))
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.isEmpty, "\(checked.output)")
    }
}

@Suite struct MetricFamilyTests {
    @Test("every family is written once, in name order, and each of its samples carries the labels it declares")
    func familiesAreWrittenAsDeclared() throws {
        var snapshot = MetricsSnapshot(
            counts: [
                "a.example": [
                    CountryCode(isoCode: "US")!: BucketCounts(requests: 3, status2xx: 3, status3xx: 0, status4xx: 0, status5xx: 0, bytes: 9)
                ]
            ],
            accounting: RunAccounting(), lastMinute: 25_000_000, alerts: [])
        // (The deliveries' family is written for a run that delivers alerts.)
        snapshot.deliveries = DeliveryCounts(sent: 2, retried: 1)
        var writer = MetricsWriter()
        let text = writer.exposition(snapshot)
        let families = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(families.map(String.init) == MetricsWriter.Family.allCases.map(\.name))
        #expect(families.map(String.init) == families.map(String.init).sorted())
        for family in MetricsWriter.Family.allCases {
            let samples = text.split(separator: "\n").filter { $0.hasPrefix(family.name + "{") || $0.hasPrefix(family.name + " ") }
            #expect(!samples.isEmpty, "\(family.name)")
            for sample in samples {
                let labels = sample.firstMatch(of: /\{(.*)\}/).map { $0.1.split(separator: ",").map { $0.split(separator: "=")[0] } } ?? []
                #expect(labels.map(String.init) == family.labels, "\(sample)")
            }
        }
    }
}
