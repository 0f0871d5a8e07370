import LogSurgeGeo
import LogSurgeParse

extension TextReport {
    /// Episodes shown in full; the rest are counted.
    static let episodesShown = 20

    /// The alert episodes, each with a per-minute picture of the traffic around it.
    public static func renderEpisodes(_ events: [AlertEvent], buckets: MinuteBuckets, configuration: DetectorConfiguration) -> String {
        let closed = events.filter { $0.state == .closed }
        let watched = configuration.watchedCountries.map(\.description).joined(separator: ", ")
        guard !closed.isEmpty else {
            return "\nAlerts: none (watching \(watched) for surges, every site for 5xx spikes)\n"
        }
        var out = "\nAlerts: \(closed.count) episode\(closed.count == 1 ? "" : "s") (watching \(watched) for surges, every site for 5xx spikes)\n"
        let rows = buckets.rows()
        for event in closed.sorted(by: { $0.id < $1.id }).prefix(episodesShown) {
            let site = Escaping.terminal(event.site)
            let span = "\(UTCMinute.format(event.start)) to \(event.end.map(UTCMinute.format) ?? "open"), raised \(UTCMinute.format(event.raisedAt))"
            switch event.kind {
            case .surge:
                out += "  #\(event.id) surge  \(site)  \(event.country?.description ?? "-")  \(span)\n"
                out += "      peak \(number(event.peakRequests))/min at \(UTCMinute.format(event.peakMinute)), baseline \(event.baselineRequests ?? 0)/min, ×\(event.ratio ?? 0)\n"
            case .errorSpike:
                out += "  #\(event.id) 5xx spike  \(site)  \(span)\n"
                out += "      peak \(percentText(event.peakErrorRate)) of \(number(event.peakRequests)) requests at \(UTCMinute.format(event.peakMinute)), baseline \(percentText(event.baselineErrorRate))\n"
            }
            out += "      " + picture(of: event, rows: rows) + "\n"
        }
        if closed.count > episodesShown { out += "  … and \(closed.count - episodesShown) more episodes\n" }
        return out
    }

    /// A sparkline of the episode's series from 30 minutes before to 30 after, 60 columns at most.
    static func picture(of event: AlertEvent, rows: [BucketRow]) -> String {
        let from = event.start - 30, to = (event.end ?? event.raisedAt) + 30
        let minutes = Int(to - from) + 1
        var requests = [Double](repeating: 0, count: minutes), errors = [Double](repeating: 0, count: minutes)
        for row in rows where row.minute >= from && row.minute <= to && row.site == event.site {
            let index = Int(row.minute - from)
            switch event.kind {
            case .surge:
                if row.country == event.country { requests[index] += Double(row.counts.requests) }
            case .errorSpike:
                requests[index] += Double(row.counts.requests)
                errors[index] += Double(row.counts.status5xx)
            }
        }
        let perColumn = max(1, (minutes + 59) / 60)
        var values: [Double] = []
        for column in stride(from: 0, to: minutes, by: perColumn) {
            let range = column..<min(minutes, column + perColumn)
            let total = range.reduce(0) { $0 + requests[$1] }
            switch event.kind {
            case .surge: values.append(total / Double(range.count))
            case .errorSpike: values.append(total > 0 ? range.reduce(0) { $0 + errors[$1] } / total : 0)
            }
        }
        let levels = Array(" ▁▂▃▄▅▆▇█")
        let top = max(values.max() ?? 0, 1e-9)
        let line = String(values.map { levels[min(8, Int(($0 / top * 8).rounded()))] })
        let unit = event.kind == .surge ? "requests/min" : "5xx share"
        return "|\(line)| \(UTCMinute.format(from)) … \(UTCMinute.format(to)), \(perColumn) min/column, \(unit)"
    }

    static func percentText(_ share: Double?) -> String {
        guard let share else { return "-" }
        let tenths = Int((share * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }
}
