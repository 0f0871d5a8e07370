import Foundation
import Testing
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeGenerate

/// A snapshot of the detectors, restored, goes on exactly as the detectors it was taken from:
/// what a nightly `--state` run relies on to step only the minutes it adds. Here, on generated
/// traffic, rather than in LogSurgeDetectTests, which builds without the generator.
@Suite struct DetectionSnapshotTests {
    static let start = DetectionTests.minute("2016-11-01T00:00Z")

    /// Ten days of three sites, with a US surge and a Mexican one (a country checked by its
    /// share, `--watch-country all`) on two and an error spike, open at the snapshots taken below.
    static let buckets: MinuteBuckets = {
        var buckets = MinuteBuckets()
        for (index, site) in ["a.example", "b.example", "c.example"].enumerated() {
            var generator = GeneratorConfiguration()
            generator.start = start
            generator.minutes = 10 * 1440
            generator.peakRate = [40.0, 200, 15][index]
            generator.seed = UInt64(index + 11)
            generator.events = [
                InjectedEvent(kind: .surge(country: "US", factor: 8), onset: start + 8 * 1440 + 120, duration: 240),
                InjectedEvent(kind: .surge(country: "MX", factor: 8), onset: start + 8 * 1440 + 90, duration: 240),
                InjectedEvent(kind: .errorSpike(share: 0.4), onset: start + 9 * 1440 + 600, duration: 30),
            ].filter { _ in index < 2 }
            var traffic = TrafficGenerator(configuration: generator)
            for minute in start..<(start + Int32(generator.minutes)) {
                // Quiet nights without a request: the detectors fill such minutes with zeros.
                if index == 2 && (minute - start) % 1440 < 240 { continue }
                for entry in traffic.sampleCounts(minute: minute) where entry.requests > 0 {
                    let counts = BucketCounts(
                        requests: UInt64(entry.requests), status2xx: UInt64(entry.requests - entry.errors),
                        status3xx: 0, status4xx: 0, status5xx: UInt64(entry.errors), bytes: 0)
                    buckets.add(minute: minute, site: site, country: CountryCode(isoCode: entry.country)!, counts: counts)
                }
            }
        }
        return buckets
    }()

    static func split(_ buckets: MinuteBuckets, at minute: Int32) -> (before: MinuteBuckets, after: MinuteBuckets) {
        var before = MinuteBuckets(), after = MinuteBuckets()
        for row in buckets.sortedRows() {
            if row.minute <= minute {
                before.add(minute: row.minute, site: row.site, country: row.country, counts: row.counts)
            } else {
                after.add(minute: row.minute, site: row.site, country: row.country, counts: row.counts)
            }
        }
        return (before, after)
    }

    static let configuration: DetectorConfiguration = {
        var configuration = DetectorConfiguration()
        configuration.watchedCountries = [DetectionTests.us, CountryCode(isoCode: "DE")!]
        configuration.watchesEveryCountry = true
        return configuration
    }()

    static let snapshotMinutes = ["2016-11-03T12:00Z", "2016-11-09T02:30Z", "2016-11-10T10:05Z", "2016-11-10T02:00Z"]
        .map(DetectionTests.minute)

    /// A `--state` night's policy: the episodes going on at the end stay open.
    static let night = DetectionPolicy(detectors: configuration, closesAtEnd: false)

    /// One run over everything: its events, a snapshot at each of `snapshotMinutes`, and one at the end.
    static let whole: (events: [AlertEvent], snapshots: [Int32: [UInt8]], ended: [UInt8]) = {
        var snapshots: [Int32: [UInt8]] = [:]
        var ended: [UInt8] = []
        var points = snapshotMinutes.sorted()
        // One run, stopped at each point: a `DetectionRun` takes one snapshot, so the engine is
        // stepped here by chunks, each continuing the last.
        var engine: DetectionEngine?
        var events: [AlertEvent] = []
        var rest = buckets
        for point in points {
            let (before, after) = split(rest, at: point)
            events +=
                DetectionRun(
                    night, continuing: engine, reportingAfter: nil,
                    snapshot: (
                        point,
                        {
                            engine = $0; snapshots[point] = $0.snapshot()
                        }
                    )
                ).run(before).events
            rest = after
        }
        events +=
            DetectionRun(
                night, continuing: engine, reportingAfter: nil,
                snapshot: (Int32.max, { ended = $0.snapshot() })
            ).run(rest).events
        return (events, snapshots, ended)
    }()

    @Test(arguments: snapshotMinutes)
    func restoredEngineGoesOnAsTheOriginal(through: Int32) throws {
        let (events, snapshots, ended) = Self.whole
        #expect(events.contains { $0.kind == .surge } && events.contains { $0.kind == .errorSpike })
        #expect(events.contains { $0.kind == .surge && $0.country == CountryCode(isoCode: "MX") })
        let taken = try #require(snapshots[through])
        let engine = try #require(DetectionEngine.restored(from: taken, configuration: Self.configuration))
        #expect(engine.snapshot() == taken)
        #expect(engine.lastMinuteStepped == through)
        var endedRestored: [UInt8] = []
        let continued = DetectionRun(
            Self.night, continuing: engine, reportingAfter: nil,
            snapshot: (Int32.max, { endedRestored = $0.snapshot() })
        )
        .run(Self.split(Self.buckets, at: through).after).events
        // The events decided after the snapshot, the same ones (ids, pictures and all).
        #expect(continued == events.filter { $0.raisedAt > through || ($0.end ?? .min) > through })
        #expect(endedRestored == ended)
    }

    @Test func anotherConfigurationOrDamagedBytesAreRefusedNotMisread() throws {
        let point = Self.snapshotMinutes[1]
        let bytes = try #require(Self.whole.snapshots[point])
        var other = Self.configuration
        other.surgeRatio = 4
        #expect(DetectionEngine.restored(from: bytes, configuration: other) == nil)
        #expect(DetectionEngine.restored(from: bytes, configuration: Self.configuration) != nil)
        // Every cut, and bytes changed throughout: refused or read, never a trap or a hang.
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 150)) {
            #expect(DetectionEngine.restored(from: Array(bytes[..<length]), configuration: Self.configuration) == nil)
        }
        var next = MinuteBuckets()
        for row in Self.split(Self.buckets, at: point).after.sortedRows() where row.minute <= point + 30 {
            next.add(minute: row.minute, site: row.site, country: row.country, counts: row.counts)
        }
        // The header's numbers (the last step, the origin, the next id …) made huge or negative,
        // as a forged checksum would let through: refused, or read and stepped without a trap.
        for position in 0..<min(160, bytes.count) {
            for value: UInt8 in [0x7F, 0xFF, 0x01] {
                var forged = bytes
                forged[position] = value
                guard let engine = DetectionEngine.restored(from: forged, configuration: Self.configuration) else { continue }
                _ = DetectionRun(DetectionPolicy(detectors: Self.configuration), continuing: engine, reportingAfter: nil, snapshot: nil)
                    .run(next)
            }
        }
        var random = SeededGenerator(seed: 5)
        for _ in 0..<100 {
            var damaged = bytes
            for _ in 0..<3 { damaged[Int(random.next() % UInt64(damaged.count))] = UInt8(truncatingIfNeeded: random.next()) }
            guard let engine = DetectionEngine.restored(from: damaged, configuration: Self.configuration) else { continue }
            _ = DetectionRun(DetectionPolicy(detectors: Self.configuration), continuing: engine, reportingAfter: nil, snapshot: nil).run(
                next)
        }
    }
}
