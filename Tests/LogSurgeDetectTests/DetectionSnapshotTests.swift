import Testing
import LogSurgeCore
@testable import LogSurgeDetect

/// A snapshot of the detectors, restored, goes on as the detectors it was taken from: what a
/// nightly `--state` run relies on. (A snapshot taken amid generated traffic, restored and run
/// on, is checked in LogSurgeTests.)
@Suite struct DetectionSnapshotTests {
    /// `bytes`, a snapshot, with its origin replaced: the fields before it read and written
    /// again (the same bytes), the origin written anew, the rest as it was.
    static func withOrigin(_ origin: Int, in bytes: [UInt8]) throws -> [UInt8] {
        var reader = SnapshotReader(bytes)
        let format = try reader.int(), fingerprint = try reader.string(), stepMinutes = try reader.int()
        let totals = try reader.bool(), gaps = try reader.bool()
        let admitted = try reader.optional { try $0.array { try $0.string() } }
        let notChecked = try reader.array { try $0.string() }
        let nextID = try reader.int(), lastStep = try reader.optional { try $0.int() }, stored = try reader.optional { try $0.int() }
        func prefix(origin: Int?) -> [UInt8] {
            var writer = SnapshotWriter()
            writer.int(format)
            writer.string(fingerprint)
            writer.int(stepMinutes)
            writer.bool(totals)
            writer.bool(gaps)
            writer.optional(admitted) { writer, names in writer.array(names) { $0.string($1) } }
            writer.array(notChecked) { $0.string($1) }
            writer.int(nextID)
            writer.optional(lastStep) { $0.int($1) }
            writer.optional(origin) { $0.int($1) }
            return writer.bytes
        }
        let original = prefix(origin: stored)
        #expect(Array(bytes.prefix(original.count)) == original)
        return prefix(origin: origin) + bytes.dropFirst(original.count)
    }

    @Test("a snapshot's origin or a recurrence's span forged past the years 0000-3999 is refused, never trapped on")
    func forgedMinutesPastTheSupportedYears() throws {
        let engine = DetectionEngine(configuration: DetectorConfiguration())
        let start = UTCMinute.parse("2016-11-08T00:00Z")!
        for minute in start..<(start + 30) {
            _ = engine.step(
                minute: minute,
                observations: [SiteObservation(site: "a", requests: 5, errors: 0, watched: [CountryCode(isoCode: "US")!: 3])])
        }
        let bytes = engine.snapshot()
        #expect(DetectionEngine.restored(from: try Self.withOrigin(Int(start), in: bytes), configuration: DetectorConfiguration()) != nil)
        // Near the end of Int32 (its steps' minutes overflowed further on), or at a minute
        // whose last step lies past 3999.
        for origin in [2_000_000_000, Int(UTCMinute.supported.upperBound) - 20, Int(UTCMinute.supported.lowerBound) - 1_441] {
            #expect(DetectionEngine.restored(from: try Self.withOrigin(origin, in: bytes), configuration: DetectorConfiguration()) == nil)
        }
        // The first minute of 0000 and the last of 3999 hold; a minute past either end does not.
        let (first, last) = (Int(UTCMinute.supported.lowerBound), Int(UTCMinute.supported.upperBound))
        for (span, holds) in [
            ((first, first + 60), true), ((last - 60, last), true), ((last - 60, last + 1), false), ((first - 1, first), false),
            ((2_147_483_000, 2_147_483_646), false),
        ] {
            var writer = SnapshotWriter()
            writer.array([span]) {
                $0.int($1.0); $0.int($1.1)
            }
            var reader = SnapshotReader(writer.bytes)
            #expect(((try? Recurrence(from: &reader)) != nil) == holds, "\(span)")
        }
    }

    @Test("a restored engine goes on only while its sites and the new ones are all checked")
    func restoredEngineKnowsWhenItWouldChooseSitesDifferently() throws {
        var configuration = DetectorConfiguration()
        configuration.maximumSites = 2
        let engine = DetectionEngine(configuration: configuration)
        _ = engine.step(minute: 0, observations: [SiteObservation(site: "a", requests: 1, errors: 0, watched: [:])])
        let restored = try #require(DetectionEngine.restored(from: engine.snapshot(), configuration: configuration))
        #expect(restored.checksEvery(["a", "b"]))
        #expect(!restored.checksEvery(["b", "c"]), "three sites: one run would check the busiest two")
        _ = engine.step(minute: 1, observations: ["a", "b", "c"].map { SiteObservation(site: $0, requests: 1, errors: 0, watched: [:]) })
        let full = try #require(DetectionEngine.restored(from: engine.snapshot(), configuration: configuration))
        #expect(!full.checksEvery([]), "a site already left unchecked")
    }

    @Test("quiet minutes cost a snapshot a byte per run of them, not one each")
    func quietMinutesAreRunsInASnapshot() throws {
        let engine = DetectionEngine(configuration: DetectorConfiguration())
        // Eight days of a site with a request an hour: 11,520 minutes, 192 with a request.
        for minute in Int32(0)..<(8 * 1440) {
            let requests = minute % 60 == 0 ? 1 : 0
            _ = engine.step(
                minute: minute,
                observations: requests == 0
                    ? []
                    : [
                        SiteObservation(site: "quiet.example", requests: requests, errors: 0, watched: [DetectionTests.us: requests])
                    ])
        }
        let bytes = engine.snapshot()
        // Two series (the site, its US requests) of 10,091 steps in the long ring: 20 KB at a byte
        // a step, about 500 bytes each as runs. Besides: the short rings' 256 steps (3 KB a
        // series), the error track's day of minutes (3 KB) and the last hour of clients of the US
        // and of the site (up to 60 pairs each).
        #expect(bytes.count < 13_700, "\(bytes.count) bytes")
        let restored = try #require(DetectionEngine.restored(from: bytes, configuration: DetectorConfiguration()))
        #expect(restored.snapshot() == bytes)
    }

    @Test("the configuration a snapshot was taken with names every setting")
    func fingerprintNamesEverySetting() {
        let settings = Mirror(reflecting: DetectorConfiguration()).children.compactMap(\.label)
        let named = DetectorConfiguration().fingerprint.split(separator: ";").map { String($0.split(separator: "=")[0]) }
        #expect(named == settings)
        var other = DetectorConfiguration()
        other.errorShareFloor = other.errorShareFloor.nextUp
        #expect(other.fingerprint != DetectorConfiguration().fingerprint)
    }
}
