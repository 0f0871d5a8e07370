import LogSurgeGeo
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect

/// What `--metrics` describes: a run's totals so far, small whatever the run's span.
///
/// Taken from a finished run, or every minute from a run still going (`--follow`, a pipe): then
/// the merging thread builds it from the buckets merged so far, with one pass over the buckets
/// in memory and nothing added per line.
public struct MetricsSnapshot: Sendable {
    /// Counters per site and country over the whole run so far.
    public var counts: [String: [CountryCode: BucketCounts]]
    public var accounting: RunAccounting
    /// The newest UTC minute with a parsed line; nil before the first one.
    public var lastMinute: Int32?
    /// The alert events so far, in the order they were raised and closed.
    public var alerts: [AlertEvent]
    /// Episodes an earlier run raised that are still going on (`Analysis.earlierEpisodes`):
    /// active, not raised by this run.
    public var earlierEpisodes: [AlertEvent] = []
    /// The alert deliveries so far, when the run delivers alerts (`--alertmanager`, `--webhook`).
    public var deliveries: DeliveryCounts?

    public init(counts: [String: [CountryCode: BucketCounts]], accounting: RunAccounting, lastMinute: Int32?, alerts: [AlertEvent]) {
        self.counts = counts
        self.accounting = accounting
        self.lastMinute = lastMinute
        self.alerts = alerts
    }

    /// The totals of a finished run.
    public init(_ analysis: Analysis) {
        self.init(buckets: analysis.buckets, accounting: analysis.accounting, alerts: analysis.alerts)
        earlierEpisodes = analysis.earlierEpisodes
        deliveries = analysis.deliveries
    }

    init(buckets: MinuteBuckets, accounting: RunAccounting, alerts: [AlertEvent]) {
        self.init(
            counts: buckets.countsBySiteAndCountry(), accounting: accounting,
            lastMinute: buckets.minuteRange?.upperBound, alerts: alerts)
    }
}
