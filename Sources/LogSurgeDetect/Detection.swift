@_spi(Pipeline) import LogSurgeAggregate

/// Runs the detectors over per-minute buckets, minute by minute in time order.
public enum Detection {
    /// The alert events of `buckets`, in the order a reader of the stream would see them.
    ///
    /// For a run that continues earlier ones (`--state`): `after` keeps only the events decided
    /// at a later minute (the earlier ones were reported by the runs that read those minutes),
    /// and `closingAtEnd: false` leaves the episodes still open at the last minute open (the
    /// next run may see them go on) instead of closing them there.
    ///
    /// `continuing` goes on with an engine that already stepped the minutes before `buckets`
    /// (restored from a snapshot); `snapshot` is handed the engine once it has stepped every
    /// minute through `snapshot.through` and none after (at the end, if no later minute comes).
    public static func run(_ buckets: MinuteBuckets, configuration: DetectorConfiguration,
                           after: Int32? = nil, closingAtEnd: Bool = true, trace: DetectionTrace? = nil,
                           continuing: DetectionEngine? = nil,
                           snapshot: (through: Int32, take: (DetectionEngine) -> Void)? = nil,
                           onEvent: (AlertEvent) -> Void = { _ in }) -> [AlertEvent] {
        let engine = continuing ?? {
            // The busiest sites (by requests, then name) when there are more than can be checked.
            let sites = buckets.sitesByRequests()
            let busiest = sites.count <= configuration.maximumSites ? nil : Set(sites.prefix(configuration.maximumSites).map(\.site))
            return DetectionEngine(configuration: configuration, sites: busiest)
        }()
        engine.trace = trace
        var snapshot = snapshot
        let watched = Array(Set(configuration.watchedCountries))
        var events: [AlertEvent] = []
        var current: Int32?
        // Rows come by minute, then site name: a minute's observations are built in site order,
        // one site's rows after another, with no lookup by name.
        var observations: [SiteObservation] = []
        var currentSite: UInt16?
        func flush() {
            guard let minute = current else { return }
            // Already in byte order of the names; the engine's order is String's (they differ
            // only for some non-ASCII names).
            observations.sort { $0.site < $1.site }
            if let point = snapshot, minute > point.through {
                point.take(engine)
                snapshot = nil
            }
            for event in engine.step(minute: minute, observations: observations) where after.map({ minute > $0 }) ?? true {
                events.append(event)
                onEvent(event)
            }
            observations.removeAll(keepingCapacity: true)
            currentSite = nil
        }
        let rows = buckets.sortedRows()
        var iterator = rows.makeIterator()
        while let (key, counts) = iterator.nextEntry() {
            if key.minute != current {
                flush()
                current = key.minute
            }
            if key.site != currentSite {
                observations.append(SiteObservation(site: rows.siteNames[Int(key.site)], requests: 0, errors: 0, watched: [:]))
                currentSite = key.site
            }
            observations[observations.count - 1].add(country: key.country, counts: counts, watching: watched)
        }
        flush()
        snapshot?.take(engine)
        // Left open, the engine is as the last minute left it: a caller may go on with it.
        guard closingAtEnd else { return events }
        for var event in engine.finish() {
            event.closedAtEndOfInput = true
            events.append(event)
            onEvent(event)
        }
        return events
    }

    /// The alert events of a plain count series: surges of its values (`country` null).
    public static func run(_ series: CountSeries, configuration: DetectorConfiguration) -> [AlertEvent] {
        var configuration = configuration
        configuration.watchedCountries = [.unknown]
        let engine = DetectionEngine(configuration: configuration, stepMinutes: series.stepMinutes, hasSiteTotals: false,
                                     gapsAreMissingData: true)
        var events: [AlertEvent] = []
        for point in series.points {
            events += engine.step(minute: point.minute, observations: [
                SiteObservation(site: series.name, requests: point.value, errors: 0, watched: [.unknown: point.value]),
            ])
        }
        return events + engine.finish().map { event in
            var event = event
            event.closedAtEndOfInput = true
            return event
        }
    }

    /// Renumbers the episodes of several runs 1, 2, 3 … in the order they opened.
    public static func renumbered(_ events: [AlertEvent]) -> [AlertEvent] {
        var ids: [Int: Int] = [:]   // position of the open event → new id
        var result = events
        var next = 1
        var openIndex: [String: Int] = [:]
        for (index, event) in events.enumerated() {
            let key = "\(event.kind)|\(event.site)|\(event.country?.description ?? "")|\(event.start)|\(event.raisedAt)"
            if event.state == .open {
                ids[index] = next
                openIndex[key] = next
                next += 1
                result[index].id = ids[index]!
            } else if let id = openIndex[key] {
                result[index].id = id
            }
        }
        return result
    }
}

/// A plain count series: one value a step, at a regular interval.
public struct CountSeries: Sendable {
    /// Its name (the `site` of its alerts): for a file, its name without the extension.
    public var name: String
    /// Minutes between steps.
    public var stepMinutes: Int
    /// (UTC minute, value), in time order, one per step present.
    public var points: [(minute: Int32, value: Int)]

    public init(name: String, stepMinutes: Int, points: [(minute: Int32, value: Int)]) {
        self.name = name
        self.stepMinutes = stepMinutes
        self.points = points
    }
}
