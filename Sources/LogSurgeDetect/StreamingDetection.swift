import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate

/// Feeds the detectors minute by minute as merged chunks arrive, deciding a minute once later
/// data shows it is complete.
///
/// A minute is decided when a line `lateness` minutes newer has been merged (a watermark that
/// tolerates lines arriving a little out of order), and every minute still open is decided at
/// the end of input. Lines for a minute already decided still count in the buckets but not in
/// detection: `lateLines` counts them. With `lateness` nil nothing is decided before the end,
/// which gives the same alerts as running the detectors over the finished buckets.
package final class StreamingDetection {
    private let engine: DetectionEngine
    private let watched: [CountryCode]
    private let lateness: Int32?
    private let onEvent: (AlertEvent) -> Void
    private var pending: [Int32: [String: SiteObservation]] = [:]
    private var newest: Int32?
    private var decidedThrough: Int32?
    /// Requests more than an hour ahead of `newest`, and the newest of their minutes: the
    /// watermark follows them only once there are enough of them, so that one line with a
    /// bogus future date cannot decide every pending minute.
    private var aheadRequests: UInt64 = 0
    private var aheadNewest: Int32 = .min
    static let aheadToTrust: UInt64 = 100
    package private(set) var lateLines: UInt64 = 0
    package private(set) var events: [AlertEvent] = []
    /// What the detectors saw as they decided each minute, for the reports' charts (in at most
    /// `traceColumns` columns): the charts of the run that raised the alerts. Nil until the end,
    /// and when not asked for or nothing was decided.
    package private(set) var trace: DetectionTrace?

    package init(configuration: DetectorConfiguration, lateness: Int32?, traceColumns: Int? = nil,
                 onEvent: @escaping (AlertEvent) -> Void) {
        engine = DetectionEngine(configuration: configuration)
        engine.trace = traceColumns.map { DetectionTrace(growingTo: $0) }
        watched = Array(Set(configuration.watchedCountries))
        self.lateness = lateness
        self.onEvent = onEvent
    }

    /// Counts requests of one merged bucket.
    package func add(minute: Int32, site: String, country: CountryCode, counts: BucketTable.Counts) {
        if let decidedThrough, minute <= decidedThrough {
            lateLines += UInt64(counts.requests)
            return
        }
        pending[minute, default: [:]][site, default: SiteObservation(site: site, requests: 0, errors: 0, watched: [:])]
            .add(country: country, counts: counts, watching: watched)
        if let current = newest, Int(minute) - Int(current) > 60 {
            aheadRequests += UInt64(counts.requests)
            aheadNewest = max(aheadNewest, minute)
            if aheadRequests >= Self.aheadToTrust {
                newest = aheadNewest
                aheadRequests = 0
            }
        } else {
            newest = max(newest ?? minute, minute)
        }
    }

    /// Decides every minute the watermark has passed.
    package func advance() {
        guard let lateness, let newest else { return }
        decide(through: newest - lateness - 1)
    }

    /// Decides everything left and closes open episodes (end of input).
    package func finish() {
        if let newest { decide(through: max(newest, aheadNewest)) }
        for var event in engine.finish() {
            event.closedAtEndOfInput = true
            emit(event)
        }
        if let recorded = engine.trace, !recorded.isEmpty {
            recorded.finish()
            trace = recorded
        }
    }

    private func decide(through limit: Int32) {
        let ready = pending.keys.filter { $0 <= limit }.sorted()
        for minute in ready {
            let observations = pending.removeValue(forKey: minute)!.values.sorted { $0.site < $1.site }
            for event in engine.step(minute: minute, observations: observations) { emit(event) }
        }
        decidedThrough = max(decidedThrough ?? limit, limit)
    }

    private func emit(_ event: AlertEvent) {
        events.append(event)
        onEvent(event)
    }
}
