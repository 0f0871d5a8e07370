import ArgumentParser
import Foundation
import LogSurge
import LogSurgeGeo
import LogSurgeCore
import LogSurgeInput
import LogSurgeReport

/// `--metrics` and the caps on its labels.
struct MetricsOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            Prometheus text format (0.0.4), written atomically (temporary file, then rename) as \
            node_exporter's textfile collector wants; rewritten every minute with --follow or from \
            a pipe; `-` for standard output (once, at the end).
            """, valueName: "FILE"))
    var metrics: String?

    @Option(
        help: ArgumentHelp("Sites with a label of their own in --metrics, the busiest; the others count as site=\"other\".", valueName: "N")
    )
    var metricsSites = MetricsConfiguration().maximumSites

    @Option(
        help: ArgumentHelp(
            "Countries of each site with a label of their own in --metrics, the busiest, besides the watched ones; the others count as country=\"other\".",
            valueName: "N"))
    var metricsCountries = MetricsConfiguration().maximumCountriesPerSite

    @Option(help: .hidden)  // seconds between rewrites while a run goes on; the tests shorten it
    var metricsInterval: Double = 60

    func validate() throws {
        if !(0...10_000).contains(metricsSites) { throw ValidationError("--metrics-sites must be between 0 and 10000") }
        if !(0...300).contains(metricsCountries) { throw ValidationError("--metrics-countries must be between 0 and 300") }
        if !(metricsInterval >= 0.05 && metricsInterval <= 86_400) {
            throw ValidationError("--metrics-interval must be between 0.05 and 86400 seconds")
        }
    }

    /// The file `--metrics` names, opened now so that an unwritable one is a usage error before
    /// any input is read; nil without `--metrics`.
    func open(watching watched: [CountryCode]) throws -> MetricsFile? {
        guard let metrics else { return nil }
        var configuration = MetricsConfiguration()
        configuration.maximumSites = metricsSites
        configuration.maximumCountriesPerSite = metricsCountries
        configuration.watchedCountries = watched
        do { return try MetricsFile(path: metrics, configuration: configuration) } catch {
            throw UsageError(description: error.description)
        }
    }
}

/// `--metrics FILE`: written at the end of the run and, while a followed log or a pipe goes on,
/// every minute from the timer's thread; each write goes to a temporary file renamed into place.
final class MetricsFile: @unchecked Sendable {
    // Invariant: everything below `refreshes` is only touched under `lock`.
    private let lock = NSLock()
    /// Whether the file can be rewritten while the run goes: a regular file, replaced whole each
    /// time (not standard output, a device or a FIFO, which get the final write only).
    let refreshes: Bool
    private let path: String
    /// Keeps the labels chosen from one write to the next, so counters never go down.
    private var writer: MetricsWriter
    /// Opened before any input was read; the first write goes there.
    private var opened: OutputSink?
    private var refreshFailing = false

    init(path: String, configuration: MetricsConfiguration) throws(OutputError) {
        let sink = try OutputSink(path: path)
        self.path = path
        opened = sink
        refreshes = sink.replacesFile
        writer = MetricsWriter(configuration: configuration)
    }

    /// Rewrites the file with the totals so far. A failure (a full disk) is reported once, and
    /// the run goes on: the next minute may succeed, and the final write decides the exit status.
    func refresh(_ snapshot: MetricsSnapshot) {
        lock.lock()
        defer { lock.unlock() }
        do throws(OutputError) {
            try write(snapshot)
            refreshFailing = false
        } catch {
            if !refreshFailing { warn(error.description) }
            refreshFailing = true
        }
    }

    /// The final write, at the end of the run.
    func finish(_ snapshot: MetricsSnapshot) throws(OutputError) {
        lock.lock()
        defer { lock.unlock() }
        try write(snapshot)
    }

    private func write(_ snapshot: MetricsSnapshot) throws(OutputError) {
        let sink: OutputSink
        if let opened { sink = opened } else { sink = try OutputSink(path: path) }
        opened = nil
        try sink.write(writer.exposition(snapshot))
        try sink.close()
    }
}
