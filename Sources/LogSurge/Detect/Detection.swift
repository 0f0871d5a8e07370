import LogSurgeGeo

/// Runs the detectors over per-minute buckets, minute by minute in time order.
public enum Detection {
    /// The alert events of `buckets`, in the order a reader of the stream would see them.
    public static func run(_ buckets: MinuteBuckets, configuration: DetectorConfiguration) -> [AlertEvent] {
        let engine = DetectionEngine(configuration: configuration)
        let watched = Set(configuration.watchedCountries)
        var events: [AlertEvent] = []
        var current: Int32?
        var observations: [String: SiteObservation] = [:]
        func flush() {
            guard let minute = current else { return }
            events += engine.step(minute: minute, observations: observations.values.sorted { $0.site < $1.site })
            observations = [:]
        }
        for row in buckets.rows() {
            if row.minute != current {
                flush()
                current = row.minute
            }
            var observation = observations[row.site] ?? SiteObservation(site: row.site, requests: 0, errors: 0, watched: [:])
            observation.requests += Int(row.counts.requests)
            observation.errors += Int(row.counts.status5xx)
            if watched.contains(row.country) { observation.watched[row.country, default: 0] += Int(row.counts.requests) }
            observations[row.site] = observation
        }
        flush()
        return events + engine.finish()
    }
}
