import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect
import LogSurge

/// How many sites and countries `--metrics` labels on their own.
public struct MetricsConfiguration: Sendable, Equatable {
    /// Sites with a label of their own (the busiest); the others count under `site="other"`.
    /// By default, 20.
    public var maximumSites = 20
    /// Countries of each site with a label of their own (the busiest), besides the watched ones;
    /// the others count under `country="other"`. By default, 20.
    public var maximumCountriesPerSite = 20
    /// Countries labelled on every site whatever their rank, zeros included, so that a rule
    /// over them sees a series from the first write: the watched countries. By default, the US.
    public var watchedCountries: [CountryCode] = DetectorConfiguration().watchedCountries

    public init() {}
}

/// Writes a `MetricsSnapshot` in the Prometheus text exposition format, version 0.0.4 (`--metrics`).
///
/// The wire format, as node_exporter's textfile collector and `promtool check metrics` read it:
/// ```
/// logsurge_alert_active{kind,site,country}                gauge    1 while an episode is going on, else 0
/// logsurge_alerts_total{kind}                             counter  episodes raised
/// logsurge_build_info{version}                            gauge    always 1
/// logsurge_last_minute_timestamp_seconds                  gauge    start of the newest minute read
/// logsurge_lines_total{result}                            counter  parsed, or the malformed reason
/// logsurge_requests_total{site,country,status_class}      counter  2xx 3xx 4xx 5xx other
/// logsurge_response_bytes_total{site}                     counter  response bytes
/// ```
/// Invariants a reader may check: the sum of `logsurge_requests_total` equals
/// `logsurge_lines_total{result="parsed"}`, and the sum of `logsurge_lines_total` equals the lines read.
///
/// Label values come from logs (site names): they are escaped as the format says, and their
/// number is capped. The busiest `maximumSites` sites have their own `site` label, the others
/// count under `site="other"`; on each site the busiest `maximumCountriesPerSite` countries
/// and every watched country have their own `country` label, the others `country="other"`.
/// Label values that meet (a site really named `other`) are summed, so no series repeats.
///
/// Counters must never go down while a run goes on (Prometheus reads a decrease as a restart).
/// So the labels chosen are kept from one write to the next: until a cap is reached every new
/// site or country gets its label, and once it is reached the labelled set no longer changes,
/// so that what counts under `other` only grows. In a run written once, the labelled ones are
/// simply the busiest (ties broken by name).
///
/// Every series is written for each site: four status classes and `other` (statuses outside
/// 200–599), watched countries with zeros, an `alert_active` of 0 for each kind; series are
/// sorted by metric name, then label values in byte order, so that two files diff cleanly.
public struct MetricsWriter: Sendable {
    /// The label value that collects the sites or countries beyond the caps.
    public static let other = "other"
    /// The media type of what `exposition` writes.
    public static let contentType = "text/plain; version=0.0.4"

    public let configuration: MetricsConfiguration
    /// Labels chosen by earlier writes, kept so that counters never go down.
    private var keptSites: Set<String> = []
    private var keptCountries: [String: Set<CountryCode>] = [:]

    public init(configuration: MetricsConfiguration = MetricsConfiguration()) {
        self.configuration = configuration
    }

    /// The text of `snapshot`; remembers the labels it chose for the next call.
    public mutating func exposition(_ snapshot: MetricsSnapshot) -> String {
        // Sites: the busiest get a label of their own, the others fold into "other".
        let siteRequests = snapshot.counts.map { site, countries in
            (key: site, requests: countries.values.reduce(UInt64(0)) { $0 &+ $1.requests })
        }
        Self.choose(siteRequests, kept: &keptSites, limit: configuration.maximumSites, precedes: Self.bytewise)
        let keptSites = keptSites
        func siteLabel(_ site: String) -> String { keptSites.contains(site) ? site : Self.other }
        var bySite: [String: [CountryCode: BucketCounts]] = [:]
        for (site, countries) in snapshot.counts {
            let label = siteLabel(site)
            for (country, counts) in countries { bySite[label, default: [:]][country, default: BucketCounts()].merge(counts) }
        }

        // Countries of each site: the watched ones, the busiest others, and "other".
        let watched = Set(configuration.watchedCountries)
        var rows: [(site: String, country: String, counts: BucketCounts)] = []
        var bytes: [(site: String, bytes: UInt64)] = []
        for (site, countries) in bySite {
            var kept = keptCountries[site] ?? []
            let unwatched = countries.filter { !watched.contains($0.key) }.map { (key: $0.key, requests: $0.value.requests) }
            Self.choose(unwatched, kept: &kept, limit: configuration.maximumCountriesPerSite, precedes: <)
            keptCountries[site] = kept
            var labelled: [String: BucketCounts] = [:]
            for country in watched { labelled[country.description] = BucketCounts() }
            var siteBytes: UInt64 = 0
            for (country, counts) in countries {
                let label = watched.contains(country) || kept.contains(country) ? country.description : Self.other
                labelled[label, default: BucketCounts()].merge(counts)
                siteBytes = siteBytes.saturatingAdd(counts.bytes)
            }
            rows += labelled.map { (site: site, country: $0.key, counts: $0.value) }
            bytes.append((site: site, bytes: siteBytes))
        }
        rows.sort { $0.site != $1.site ? Self.bytewise($0.site, $1.site) : Self.bytewise($0.country, $1.country) }
        bytes.sort { Self.bytewise($0.site, $1.site) }

        // Alerts: every site label starts at 0 for each kind, then each episode of the run.
        var active: [AlertSeries: Int] = [:]
        for site in bySite.keys {
            for country in watched { active[AlertSeries(kind: .surge, site: site, country: country.description)] = 0 }
            active[AlertSeries(kind: .errorSpike, site: site, country: "")] = 0
            active[AlertSeries(kind: .drop, site: site, country: "")] = 0
        }
        for episode in AlertEpisode.of(snapshot.earlierEpisodes + snapshot.alerts) {
            let event = episode.event
            let series = AlertSeries(kind: event.kind, site: siteLabel(event.site), country: event.country?.description ?? "")
            active[series] = max(active[series] ?? 0, episode.isGoingOn ? 1 : 0)
        }
        var raised: [AlertEvent.Kind: Int] = [.surge: 0, .errorSpike: 0, .drop: 0]
        for event in snapshot.alerts where event.state == .open { raised[event.kind, default: 0] += 1 }

        var text = Exposition(capacity: 120 * (rows.count * 5 + active.count + 16))
        text.family(.alertActive)
        for (series, value) in active.sorted(by: { $0.key < $1.key }) {
            text.sample(.alertActive, [series.kind.rawValue, series.site, series.country], value)
        }
        if let deliveries = snapshot.deliveries {
            text.family(.alertDeliveriesTotal)
            for (result, count) in [("failed", deliveries.failed), ("retried", deliveries.retried), ("sent", deliveries.sent)] {
                text.sample(.alertDeliveriesTotal, [result], count)
            }
        }
        text.family(.alertsTotal)
        for (kind, count) in raised.sorted(by: { Self.bytewise($0.key.rawValue, $1.key.rawValue) }) {
            text.sample(.alertsTotal, [kind.rawValue], count)
        }
        text.family(.buildInfo)
        text.sample(.buildInfo, [LogSurgeVersion.string], 1)
        if let lastMinute = snapshot.lastMinute {
            text.family(.lastMinuteTimestamp)
            text.sample(.lastMinuteTimestamp, [], Int64(lastMinute) * 60)
        }
        text.family(.linesTotal)
        var lines = [("parsed", snapshot.accounting.parsed)]
        lines += MalformedReason.allCases.map { ($0.rawValue, snapshot.accounting.malformed[$0] ?? 0) }
        for (result, count) in lines.sorted(by: { Self.bytewise($0.0, $1.0) }) {
            text.sample(.linesTotal, [result], count)
        }
        text.family(.requestsTotal)
        for row in rows {
            let counts = row.counts
            let classified = counts.status2xx &+ counts.status3xx &+ counts.status4xx &+ counts.status5xx
            for (statusClass, count) in [
                ("2xx", counts.status2xx), ("3xx", counts.status3xx), ("4xx", counts.status4xx),
                ("5xx", counts.status5xx), ("other", counts.requests >= classified ? counts.requests - classified : 0),
            ] {
                text.sample(.requestsTotal, [row.site, row.country, statusClass], count)
            }
        }
        text.family(.responseBytesTotal)
        for (site, count) in bytes {
            text.sample(.responseBytesTotal, [site], count)
        }
        return text.text
    }

    /// The metric families, each declared once: its name, type, help text and label names, as
    /// the exposition writes them.
    enum Family: CaseIterable {
        case alertActive, alertDeliveriesTotal, alertsTotal, buildInfo, lastMinuteTimestamp, linesTotal, requestsTotal, responseBytesTotal

        var name: String {
            switch self {
            case .alertActive: "logsurge_alert_active"
            case .alertDeliveriesTotal: "logsurge_alert_deliveries_total"
            case .alertsTotal: "logsurge_alerts_total"
            case .buildInfo: "logsurge_build_info"
            case .lastMinuteTimestamp: "logsurge_last_minute_timestamp_seconds"
            case .linesTotal: "logsurge_lines_total"
            case .requestsTotal: "logsurge_requests_total"
            case .responseBytesTotal: "logsurge_response_bytes_total"
            }
        }

        var type: String {
            switch self {
            case .alertActive, .buildInfo, .lastMinuteTimestamp: "gauge"
            case .alertDeliveriesTotal, .alertsTotal, .linesTotal, .requestsTotal, .responseBytesTotal: "counter"
            }
        }

        var labels: [String] {
            switch self {
            case .alertActive: ["kind", "site", "country"]
            case .alertDeliveriesTotal: ["result"]
            case .alertsTotal: ["kind"]
            case .buildInfo: ["version"]
            case .lastMinuteTimestamp: []
            case .linesTotal: ["result"]
            case .requestsTotal: ["site", "country", "status_class"]
            case .responseBytesTotal: ["site"]
            }
        }

        var help: String {
            switch self {
            case .alertActive:
                "1 while an alert episode is going on (open, or still open when the input ended), else 0; country is empty for error spikes and drops."
            case .alertDeliveriesTotal:
                "Alert posts to --alertmanager and --webhook receivers, by result: sent (accepted), retried (attempts made again), failed (given up)."
            case .alertsTotal: "Alert episodes raised, by kind."
            case .buildInfo: "The version of logsurge that wrote these metrics; always 1."
            case .lastMinuteTimestamp: "Start of the newest UTC minute with a parsed line (log time), in seconds since 1970."
            case .linesTotal: "Lines read, by result: parsed, or the reason the line was malformed; the sum is every line read."
            case .requestsTotal:
                "Requests parsed, by site, client country (-- unknown) and status class (other: outside 200-599)."
            case .responseBytesTotal: "Response bytes sent, by site (- in the log counts as 0)."
            }
        }
    }

    /// The text exposition being written: a family's `# HELP` and `# TYPE` lines, then its
    /// samples, each with a value for every label the family declares.
    struct Exposition {
        private(set) var text = ""

        init(capacity: Int) { text.reserveCapacity(capacity) }

        mutating func family(_ family: Family) {
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
        }

        mutating func sample(_ family: Family, _ values: [String], _ value: some BinaryInteger) {
            precondition(values.count == family.labels.count, "\(family.name) takes \(family.labels.count) label values")
            text += family.name
            if !values.isEmpty {
                text += "{"
                text += zip(family.labels, values).map { "\($0)=\(Escaping.prometheusLabel($1))" }.joined(separator: ",")
                text += "}"
            }
            text += " \(value)\n"
        }
    }

    /// One series of `logsurge_alert_active`, ordered by its label values in byte order.
    private struct AlertSeries: Hashable, Comparable {
        var kind: AlertEvent.Kind
        var site: String
        var country: String

        static func < (lhs: Self, rhs: Self) -> Bool {
            if lhs.kind != rhs.kind { return MetricsWriter.bytewise(lhs.kind.rawValue, rhs.kind.rawValue) }
            if lhs.site != rhs.site { return MetricsWriter.bytewise(lhs.site, rhs.site) }
            return MetricsWriter.bytewise(lhs.country, rhs.country)
        }
    }

    /// Adds to `kept`, while it holds fewer than `limit`, the busiest of `candidates` not in it
    /// yet (ties broken by `precedes`). What is kept stays: once full, `kept` no longer changes.
    static func choose<Key: Hashable>(
        _ candidates: [(key: Key, requests: UInt64)], kept: inout Set<Key>, limit: Int,
        precedes: (Key, Key) -> Bool
    ) {
        guard kept.count < limit else { return }
        let newcomers = candidates.filter { !kept.contains($0.key) }.sorted {
            $0.requests != $1.requests ? $0.requests > $1.requests : precedes($0.key, $1.key)
        }
        for candidate in newcomers.prefix(limit - kept.count) { kept.insert(candidate.key) }
    }

    /// Byte order of the UTF-8 encodings, as `sort` and `diff` order files under `LC_ALL=C`.
    static func bytewise(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}
