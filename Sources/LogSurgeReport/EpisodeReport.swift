import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore
import LogSurgeDetect

extension TextReport {
    /// Episodes shown in full; the rest are counted.
    static let episodesShown = 20

    /// The alert episodes, each with a per-minute picture of the traffic against its baseline
    /// once it closed; one still open (a `--state` or followed run stopped while it went on) is
    /// shown as open, from its opening event.
    public static func renderEpisodes(
        _ events: [AlertEvent], configuration: DetectorConfiguration,
        sitesByStep: [(stepMinutes: Int, sites: Int)] = [], style: TerminalStyle = .plain
    ) -> String {
        let episodes = AlertEpisode.of(events).map(\.event)
        let watched = configuration.watchedDescription
        let steps = stepsNote(sitesByStep)
        guard !episodes.isEmpty else {
            return "\n" + style.bold("Alerts:") + " " + style.green("none")
                + " (watching \(watched) for surges, every site for 5xx spikes and drops)\n" + steps
        }
        var out =
            "\n" + style.bold("Alerts:") + " " + style.red("\(episodes.count) episode\(episodes.count == 1 ? "" : "s")")
            + " (watching \(watched) for surges, every site for 5xx spikes and drops)\n" + steps
        for event in episodes.sorted(by: { $0.id < $1.id }).prefix(episodesShown) {
            let site = Escaping.terminal(event.site)
            let span =
                "\(UTCMinute.format(event.start)) to \(event.end.map(UTCMinute.format) ?? "now (still open at the last minute read)"), raised \(UTCMinute.format(event.raisedAt))"
            switch event.kind {
            case .surge:
                out += "  " + style.red("#\(event.id) surge") + "  \(style.bold(site))  \(event.country?.description ?? "-")  \(span)\n"
                out +=
                    "      peak \(number(event.peakRequests))\(event.perStep) at \(UTCMinute.format(event.peakMinute)), baseline \(event.baselineRequests ?? 0)\(event.perStep), ×\(event.ratio ?? 0)"
                    + (event.crowdSummary.map { ", " + $0 } ?? "") + "\n"
            case .drop:
                out += "  " + style.red("#\(event.id) drop") + "  \(style.bold(site))  \(span)\n"
                out +=
                    "      lowest \(number(event.peakRequests))\(event.perStep) at \(UTCMinute.format(event.peakMinute)), baseline \(event.baselineRequests ?? 0)\(event.perStep), ×\(event.ratio ?? 0)\n"
            case .errorSpike:
                out += "  " + style.yellow("#\(event.id) 5xx spike") + "  \(style.bold(site))  \(span)\n"
                out +=
                    "      peak \(percentText(event.peakErrorRate)) of \(number(event.peakRequests)) requests at \(UTCMinute.format(event.peakMinute)), baseline \(percentText(event.baselineErrorRate))\n"
            }
            let drawn = picture(of: event, style: style)
            if !drawn.isEmpty { out += "      " + drawn + "\n" }
        }
        if episodes.count > episodesShown { out += "  … and \(episodes.count - episodesShown) more episodes\n" }
        return out
    }

    /// The line that says which sites were checked at steps longer than a minute, if any were
    /// (`SiteSteps`): their alerts begin, peak and end on those steps.
    static func stepsNote(_ sitesByStep: [(stepMinutes: Int, sites: Int)]) -> String {
        let longer = sitesByStep.filter { $0.stepMinutes > 1 && $0.sites > 0 }
        guard !longer.isEmpty else { return "" }
        return "  " + stepsSentence(longer) + "\n"
    }

    /// "Checked at longer steps …: 20 sites every 5 minutes; their alerts are of those steps."
    /// for the sites of `longer` (steps over a minute), as the report and the page say it.
    public static func stepsSentence(_ longer: [(stepMinutes: Int, sites: Int)]) -> String {
        let parts = longer.map { "\(number($0.sites)) site\($0.sites == 1 ? "" : "s") every \($0.stepMinutes) minutes" }
        let count = longer.reduce(0) { $0 + $1.sites }
        return "Checked at longer steps (too few requests for a minute to say anything): "
            + "\(parts.joined(separator: ", ")); \(count == 1 ? "its" : "their") alerts are of those steps."
    }

    /// Two sparklines on one scale: the series around the episode and its baseline,
    /// `sparklineWidth` columns at most (several steps a column when longer).
    static func picture(of event: AlertEvent, style: TerminalStyle = .plain) -> String {
        guard let picture = event.picture, !picture.values.isEmpty else { return "" }
        let steps = picture.values.count
        let perColumn = max(1, (steps + sparklineWidth - 1) / sparklineWidth)
        let ones = [Double](repeating: 1, count: steps)
        let values = Sparkline.fold(picture.values, weights: ones, into: sparklineWidth)
        let baselines = Sparkline.fold(picture.baselines, weights: ones, into: sparklineWidth)
        let top = max(values.compactMap { $0 }.max() ?? 0, baselines.compactMap { $0 }.max() ?? 0)
        func line(_ series: [Double?]) -> String { String(Sparkline.bars(series, top: top)) }
        let unit = event.kind == .errorSpike ? "5xx share" : "requests" + event.perStep
        let last = picture.firstMinute + Int32((steps - 1) * picture.stepMinutes)
        return "observed |\(style.red(line(values)))| \(unit), \(UTCMinute.format(picture.firstMinute)) … \(UTCMinute.format(last))\n"
            + "      baseline |\(style.dim(line(baselines)))| \(perColumn * picture.stepMinutes) min a column"
    }

    static func percentText(_ share: Double?) -> String {
        guard let share else { return "-" }
        let tenths = Int((share * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }
}

extension AlertEvent {
    /// Who a surge's excess came from, as the reports say it: "412 clients, the busiest sent
    /// 3% of the excess"; nil when the input counts no clients.
    var crowdSummary: String? {
        guard kind == .surge, let clients else { return nil }
        let people = "\(TextReport.number(clients)) client\(clients == 1 ? "" : "s")"
        guard let share = topClientShare else { return people }
        return people + ", the busiest sent \(Int((share * 100).rounded()))% of the excess"
    }
}
