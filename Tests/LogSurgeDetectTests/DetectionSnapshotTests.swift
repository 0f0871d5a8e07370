import Testing
import LogSurgeCore
@testable import LogSurgeDetect

/// A snapshot of the detectors, restored, goes on as the detectors it was taken from: what a
/// nightly `--state` run relies on. (A snapshot taken amid generated traffic, restored and run
/// on, is checked in LogSurgeTests.)
@Suite struct DetectionSnapshotTests {
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
