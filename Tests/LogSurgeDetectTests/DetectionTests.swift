import Testing
import LogSurgeCore
@testable import LogSurgeDetect

/// The detectors on counts written by hand, and their statistics. (Detection on generated
/// traffic, with known injected events, is checked in LogSurgeTests.)
@Suite struct DetectionTests {
    static let us = CountryCode(isoCode: "US")!

    @Test func twoErrorsOfThreeRequestsAreNotASpike() {
        let engine = DetectionEngine(configuration: DetectorConfiguration())
        var alerts: [AlertEvent] = []
        for minute in Int32(0)..<120 {
            let spiky = minute == 100
            alerts += engine.step(
                minute: minute,
                observations: [
                    SiteObservation(site: "small", requests: spiky ? 3 : 20, errors: spiky ? 2 : 0, watched: [:])
                ])
        }
        #expect(alerts.isEmpty)
        // … while 40% of 600 is.
        let big = DetectionEngine(configuration: DetectorConfiguration())
        var raised: [AlertEvent] = []
        for minute in Int32(0)..<120 {
            raised += big.step(
                minute: minute,
                observations: [
                    SiteObservation(site: "big", requests: 600, errors: minute == 100 ? 240 : 1, watched: [:])
                ])
        }
        #expect(raised.map(\.kind) == [.errorSpike, .errorSpike], "\(raised)")
        #expect(raised.map(\.state) == [.open, .closed])
        #expect(raised.first?.raisedAt == 100)
    }

    /// A site that buckles: 40 % 5xx for ten minutes, then down (one request a minute, a 500
    /// among them). The quiet tail closes the spike; its one 500 of one request is not the peak,
    /// which lies between the episode's start and end.
    @Test func anErrorSpikesPeakIsInsideTheEpisode() {
        let engine = DetectionEngine(configuration: DetectorConfiguration())
        var events: [AlertEvent] = []
        for minute in Int32(0)..<160 {
            let observation: SiteObservation
            switch minute {
            case 100..<110: observation = SiteObservation(site: "s", requests: 500, errors: 200, watched: [:])
            case 110..<140: observation = SiteObservation(site: "s", requests: 1, errors: minute == 113 ? 1 : 0, watched: [:])
            default: observation = SiteObservation(site: "s", requests: 500, errors: 2, watched: [:])
            }
            events += engine.step(minute: minute, observations: [observation])
        }
        let closed = events.first { $0.kind == .errorSpike && $0.state == .closed }
        #expect(closed?.end == 109, "\(events)")
        #expect(closed.map { ($0.start...($0.end ?? -1)).contains($0.peakMinute) } == true, "\(String(describing: closed))")
        #expect(closed?.peakRequests == 500)
        #expect(closed?.peakErrorRate == 0.4)
    }

    @Test func aJumpOfYearsStartsAfreshInsteadOfWalkingEveryMinute() {
        let engine = DetectionEngine(configuration: DetectorConfiguration())
        var alerts: [AlertEvent] = []
        for minute in Int32(0)..<200 {
            alerts += engine.step(
                minute: minute, observations: [SiteObservation(site: "s", requests: 600, errors: minute == 150 ? 300 : 1, watched: [:])])
        }
        // Twenty years on, and a step before the last one (ignored, not a crash).
        alerts += engine.step(minute: 20 * 525_600, observations: [SiteObservation(site: "s", requests: 5, errors: 0, watched: [:])])
        alerts += engine.step(minute: 100, observations: [])
        alerts += engine.finish()
        #expect(engine.stepsTaken == 201)  // not the 10 million minutes in between
        #expect(alerts.map(\.state) == [.open, .closed])
    }

    @Test func sitesBeyondTheLimitAreNotChecked() {
        var configuration = DetectorConfiguration()
        configuration.maximumSites = 2
        let engine = DetectionEngine(configuration: configuration)
        for minute in Int32(0)..<5 {
            _ = engine.step(
                minute: minute, observations: ["b", "a", "c"].map { SiteObservation(site: $0, requests: 1, errors: 0, watched: [:]) })
        }
        #expect(engine.sitesNotChecked == ["c"])
        // Over finished buckets the busiest sites are the ones checked.
        let chosen = DetectionEngine(configuration: configuration, sites: ["a", "c"])
        _ = chosen.step(minute: 0, observations: ["a", "b", "c"].map { SiteObservation(site: $0, requests: 1, errors: 0, watched: [:]) })
        #expect(chosen.sitesNotChecked == ["b"])
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

/// The one pairing of events into episodes that the text report, the page and the metrics use.
@Suite struct AlertEpisodeTests {
    private func event(_ id: Int, _ state: AlertEvent.State, site: String, atEnd: Bool = false) -> AlertEvent {
        var event = AlertEvent(
            id: id, state: state, kind: .surge, site: site, country: DetectionTests.us, start: Int32(id * 10),
            raisedAt: Int32(id * 10 + 1), end: state == .closed ? Int32(id * 10 + 5) : nil,
            peakMinute: Int32(id * 10 + 2), peakRequests: 50)
        event.closedAtEndOfInput = atEnd
        return event
    }

    @Test("events pair by id, in the order the episodes opened; the closing event stands for a closed one")
    func pairing() {
        let events = [
            event(2, .open, site: "b"), event(1, .open, site: "a"), event(2, .closed, site: "b"),
            event(3, .open, site: "c"), event(1, .closed, site: "a", atEnd: true),
        ]
        let episodes = AlertEpisode.of(events)
        #expect(episodes.map(\.event.id) == [2, 1, 3])
        #expect(episodes.map(\.event.state) == [.closed, .closed, .open])
        // Going on at the last minute read: open, or closed only because the input ended.
        #expect(episodes.map(\.isGoingOn) == [false, true, true])
        // A closing event seen before its opening one (a followed run's earlier file) still wins.
        #expect(AlertEpisode.of([event(4, .closed, site: "d"), event(4, .open, site: "d")]).map(\.event.state) == [.closed])
    }
}
