@_spi(Pipeline) import LogSurgeAggregate

/// Shorthands for one `DetectionRun` of the default policy but for its thresholds.
public enum Detection {
    /// The alert events of `buckets`, in the order a reader of the stream would see them.
    ///
    /// Buckets read from a file (`logsurge detect`) give each minute's clients as figures, which
    /// no longer steps can merge (a crawler's 15 minutes would be 15 clients): those pass
    /// `quietSitesAtLongerSteps: false`, and every site is checked a minute at a time.
    public static func run(
        _ buckets: MinuteBuckets, configuration: DetectorConfiguration, quietSitesAtLongerSteps: Bool = true
    ) -> [AlertEvent] {
        DetectionRun(DetectionPolicy(detectors: configuration, quietSitesAtLongerSteps: quietSitesAtLongerSteps)).run(buckets).events
    }

    /// The alert events of a plain count series: surges of its values (`country` null).
    public static func run(_ series: CountSeries, configuration: DetectorConfiguration) -> [AlertEvent] {
        DetectionRun(DetectionPolicy(detectors: configuration)).run(series).events
    }

    /// Renumbers the episodes of several runs 1, 2, 3 … in the order they opened.
    public static func renumbered(_ events: [AlertEvent]) -> [AlertEvent] {
        var ids: [Int: Int] = [:]  // position of the open event → new id
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
