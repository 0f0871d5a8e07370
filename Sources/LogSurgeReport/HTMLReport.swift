import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import LogSurgeCore
import LogSurgeDetect
import LogSurge

/// The report as one self-contained HTML page (`--html`): charts as inline SVG, styles inline,
/// no script, nothing fetched from the network.
///
/// Every string that comes from a log line (site names, malformed-line samples), a file name or
/// the database's metadata goes through `Escaping.html`, and the page is written as well-formed
/// XML (every element closed, every attribute quoted), so an escaping slip is a parse error a
/// test sees. A Content-Security-Policy that allows no script stands behind the escaping.
///
/// The charts take the detectors' trace (at most 720 columns whatever the span), so a page for
/// a week of minutes and ten sites stays well under a megabyte.
public enum HTMLReport {
    /// The busiest sites charted. By default, 5; sites with an episode are charted after them.
    public static let busiestSitesCharted = 5
    /// Sites charted at most, the busiest and those with episodes together. By default, 12.
    public static let mostSitesCharted = 12
    /// Countries drawn as bars. By default, 10 (the rest as one bar).
    public static let topCountries = 10
    /// Sites listed in the table of sites. By default, 20.
    public static let sitesListed = 20
    /// Episodes listed in the table of alerts (all of them are in `--alerts`). By default, 200.
    public static let episodesListed = 200

    /// The page for `analysis`: `events` are its alert events (open and closed, in the order
    /// written), `trace` the series the detectors saw (nil: no charts), `configuration` the
    /// detectors' settings, `databaseDescription` the GeoIP database as the text report names it.
    ///
    /// `live`: the page of a run still going (a followed log, a pipe), which reloads itself every
    /// `live.refresh` seconds and says when it was written and how far behind the clock its
    /// newest minute is.
    public static func render(
        _ analysis: Analysis, events: [AlertEvent], trace: DetectionTrace?,
        configuration: DetectorConfiguration, databaseDescription: String, live: Live? = nil
    ) -> String {
        let episodes = AlertEpisode.of(events)
        let range = analysis.buckets.minuteRange
        // A --state run that read nothing new still charts what the state remembers.
        let charted = trace.map {
            "\(display($0.firstMinute)) – \(display($0.lastMinute)) UTC, nothing new read"
        }
        let spanText = range.map { "\(display($0.lowerBound)) – \(display($0.upperBound)) UTC" } ?? charted ?? "no requests"
        var page = """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <meta name="generator" content="logsurge \(Escaping.html(LogSurgeVersion.string))"/>\(live.map { "\n<meta http-equiv=\"refresh\" content=\"\($0.refresh)\"/>" } ?? "")
            <title>logsurge report: \(spanText)</title>
            <style>\(styleSheet)</style>
            </head>
            <body>

            """
        page += header(analysis, spanText: spanText, live: live)
        page += "<main class=\"wrap\">\n"
        page += warningsSection(analysis)
        page += figures(analysis, episodes: episodes)
        let sites = chartedSites(trace, episodes: episodes)
        page += alertsSection(episodes, charted: sites, configuration: configuration, sitesByStep: analysis.sitesByStep)
        page += chartsSection(trace, sites: sites, episodes: episodes, configuration: configuration)
        page += trafficSection(analysis, databaseDescription: databaseDescription)
        page += accountingSection(analysis, databaseDescription: databaseDescription)
        page += "</main>\n"
        page +=
            "<footer class=\"wrap\"><p>Written by logsurge \(Escaping.html(LogSurgeVersion.string)). "
            + "Times are UTC minutes, as read from the logs. Every figure comes from this run; nothing on this page was fetched from elsewhere.</p></footer>\n"
        page += "</body>\n</html>\n"
        return page
    }

    // MARK: Page sections

    /// A page of a run still going: when it was written (seconds since 1970, wall clock) and
    /// every how many seconds it reloads.
    public struct Live: Sendable {
        public var writtenAt: Double
        public var refresh: Int

        public init(writtenAt: Double, refresh: Int) {
            self.writtenAt = writtenAt
            self.refresh = refresh
        }
    }

    /// "Live: …": when the page was written, the log's newest minute and how far behind the clock.
    static func liveLine(_ live: Live, newest: Int32?) -> String {
        let (writtenMinute, second) = UTCMinute.split(seconds: live.writtenAt)
        var text = "Live: written \(display(writtenMinute)):\(second < 10 ? "0" : "")\(second) UTC"
        if let newest {
            let behind = Int((live.writtenAt - Double(newest + 1) * 60) / 60)
            text += "; newest minute in the log: \(display(newest)) UTC"
            text +=
                behind <= 1
                ? ", as recent as the clock"
                : ", \(behind < 120 ? "\(behind) minutes" : behind < 2880 ? "\(behind / 60) hours" : "\(behind / 1440) days") behind the clock"
        } else {
            text += "; no request read yet"
        }
        return text + ". The page reloads every \(live.refresh) s while the run goes on; once it ends, it stays as it was last written."
    }

    private static func header(_ analysis: Analysis, spanText: String, live: Live?) -> String {
        let inputs = analysis.inputs.count
        var out = "<header class=\"top\"><div class=\"wrap\">"
        out += "<p class=\"eyebrow\">logsurge report</p>"
        out += "<h1>\(spanText)</h1>"
        let names = analysis.inputs.prefix(4).map { "<span class=\"mono\">\(Escaping.html($0.name))</span>" }.joined(separator: ", ")
        let more = inputs > 4 ? " and \(inputs - 4) more" : ""
        out += "<p class=\"sub\">\(inputs) input\(inputs == 1 ? "" : "s")\(inputs > 0 ? ": " : "")\(names)\(more)</p>"
        if let live {
            out +=
                "<p class=\"sub live\" id=\"live\">\(Escaping.html(liveLine(live, newest: analysis.buckets.minuteRange?.upperBound)))</p>"
        }
        return out + "</div></header>\n"
    }

    /// What probably makes the figures wrong (countries behind a proxy …), before the figures.
    private static func warningsSection(_ analysis: Analysis) -> String {
        guard !analysis.warnings.isEmpty else { return "" }
        var out = "<section id=\"warnings\" class=\"warnings\"><h2>Check before trusting the figures</h2><ul>"
        for warning in analysis.warnings {
            out += "<li><span class=\"mono\">\(warning.code.rawValue)</span>: \(Escaping.html(warning.message))</li>"
        }
        return out + "</ul></section>\n"
    }

    private static func figures(_ analysis: Analysis, episodes: [AlertEpisode]) -> String {
        let accounting = analysis.accounting
        let sites = analysis.buckets.requestsBySite()
        let errors = sites.values.reduce(UInt64(0)) { $0 + UInt64($1.status5xx) }
        let surges = episodes.filter { $0.event.kind == .surge }.count
        let drops = episodes.filter { $0.event.kind == .drop }.count
        let spikes = episodes.count - surges - drops
        var cells: [(String, String, String)] = [
            ("Requests", TextReport.number(accounting.parsed), "parsed lines"),
            ("Lines read", TextReport.number(accounting.lines), "\(TextReport.number(accounting.malformedTotal)) malformed"),
            (
                "5xx share", accounting.parsed > 0 ? shareText(Double(errors) / Double(accounting.parsed)) : "–",
                "\(TextReport.number(errors)) responses"
            ),
            ("Sites", TextReport.number(sites.count), "\(TextReport.number(analysis.buckets.countsByCountry().count)) countries"),
        ]
        if let range = analysis.buckets.minuteRange {
            cells.append(("Time span", TextReport.duration(Int64(range.upperBound) - Int64(range.lowerBound) + 1), "of log time"))
        }
        let alertClass = episodes.isEmpty ? "ok" : "alert"
        var out = "<section class=\"figures\">"
        for (name, value, note) in cells {
            out +=
                "<div class=\"figure\"><div class=\"name\">\(name)</div><div class=\"value\">\(value)</div><div class=\"note\">\(note)</div></div>"
        }
        out +=
            "<div class=\"figure \(alertClass)\"><div class=\"name\">Alerts</div><div class=\"value\">\(episodes.count)</div>"
            + "<div class=\"note\">\(surges) surge\(surges == 1 ? "" : "s"), \(spikes) 5xx spike\(spikes == 1 ? "" : "s"), \(drops) drop\(drops == 1 ? "" : "s")</div></div>"
        return out + "</section>\n"
    }

    private static func alertsSection(
        _ episodes: [AlertEpisode], charted: [String], configuration: DetectorConfiguration,
        sitesByStep: [(stepMinutes: Int, sites: Int)]
    ) -> String {
        let watched = configuration.watchedDescription
        var out = "<section id=\"alerts\"><h2>Alerts</h2>"
        out += "<p class=\"lead\">Watching \(Escaping.html(watched)) for surges, every site for 5xx spikes and drops.</p>"
        let longer = sitesByStep.filter { $0.stepMinutes > 1 && $0.sites > 0 }
        if !longer.isEmpty { out += "<p class=\"note\">\(Escaping.html(TextReport.stepsSentence(longer)))</p>" }
        guard !episodes.isEmpty else {
            return out + "<p class=\"none\">No alert was raised.</p></section>\n"
        }
        out += "<div class=\"scroll\"><table class=\"episodes\"><thead><tr>"
        for heading in ["#", "Kind", "Site", "Country", "Start", "Raised at", "End", "Peak", "Baseline", "Ratio"] {
            let numeric = ["#", "Peak", "Baseline", "Ratio"].contains(heading)
            out += "<th\(numeric ? " class=\"num\"" : "")>\(heading)</th>"
        }
        out += "</tr></thead><tbody>"
        for episode in episodes.prefix(episodesListed) {
            let event = episode.event
            let site = Escaping.html(event.site)
            let siteCell = charted.firstIndex(of: event.site).map { "<a href=\"#site-\($0 + 1)\">\(site)</a>" } ?? site
            let kind =
                switch event.kind {
                case .surge: "<span class=\"tag surge\">surge</span>"
                case .drop: "<span class=\"tag drop\">drop</span>"
                case .errorSpike: "<span class=\"tag spike\">5xx spike</span>"
                }
            let end =
                event.end.map {
                    "\(time($0, after: event.start))<br/><span class=\"dim\">lasted \(TextReport.duration(Int64($0) - Int64(event.start) + 1))</span>"
                }
                ?? "<span class=\"tag open\">open</span>"
            let delay = Int64(event.raisedAt) - Int64(event.start)
            let raised =
                "\(time(event.raisedAt, after: event.start))<br/><span class=\"dim\">"
                + (delay > 0 ? "\(TextReport.duration(delay)) after start" : "at start") + "</span>"
            let peak: String, baseline: String, ratio: String
            switch event.kind {
            case .surge, .drop:
                peak =
                    "\(TextReport.number(event.peakRequests))\(event.perStep)<br/><span class=\"dim\">at \(clock(event.peakMinute))</span>"
                    + (event.crowdSummary.map { "<br/><span class=\"dim\">\(Escaping.html($0))</span>" } ?? "")
                baseline = event.baselineRequests.map { "\(decimal($0))\(event.perStep)" } ?? "–"
                ratio = event.ratio.map { "×" + decimal($0) } ?? "–"
            case .errorSpike:
                peak =
                    "\(shareText(event.peakErrorRate))<br/><span class=\"dim\">of \(TextReport.number(event.peakRequests)) at \(clock(event.peakMinute))</span>"
                baseline = shareText(event.baselineErrorRate)
                if let rate = event.peakErrorRate, let base = event.baselineErrorRate, base > 0 {
                    ratio = "×" + decimal(rate / base)
                } else {
                    ratio = "–"
                }
            }
            out +=
                "<tr><td class=\"num\">\(event.id)</td><td>\(kind)</td><td class=\"site\">\(siteCell)</td>"
                + "<td>\(event.country.map { Escaping.html($0.description) } ?? "–")</td>"
                + "<td>\(time(event.start))</td><td>\(raised)</td><td>\(end)</td>"
                + "<td class=\"num\">\(peak)</td><td class=\"num\">\(baseline)</td><td class=\"num\">\(ratio)</td></tr>"
        }
        out += "</tbody></table></div>"
        if episodes.count > episodesListed {
            out +=
                "<p class=\"note\">… and \(episodes.count - episodesListed) more episodes: every one is in the alerts output (--alerts).</p>"
        }
        return out + "</section>\n"
    }

    /// The busiest sites of the trace, then those with an episode, at most `mostSitesCharted`.
    static func chartedSites(_ trace: DetectionTrace?, episodes: [AlertEpisode]) -> [String] {
        trace?.chartedSites(busiest: busiestSitesCharted, most: mostSitesCharted, alsoShown: episodes.map(\.event.site)) ?? []
    }

    private static func chartsSection(
        _ trace: DetectionTrace?, sites: [String], episodes: [AlertEpisode],
        configuration: DetectorConfiguration
    ) -> String {
        var out = "<section id=\"charts\"><h2>Traffic by site</h2>"
        guard let trace, !sites.isEmpty else {
            return out + "<p class=\"none\">No requests were read, so there is nothing to chart.</p></section>\n"
        }
        let last = trace.lastMinute
        let column = TextReport.duration(Int64(trace.minutesPerColumn))
        out +=
            "<p class=\"lead\">\(display(trace.firstMinute)) to \(display(last)) UTC, \(column) a column"
            + (trace.minutesPerColumn > 1 ? ": each point is the mean of its minutes." : ".") + " How to read the charts:</p>"
        out +=
            "<ul class=\"howto\">"
            + "<li><b>Line</b>: requests per minute of each watched country; below it, the share of the site’s responses that were 5xx.</li>"
            + "<li><b>Dashed</b>: the baseline the detector expected at that time (absent while it was still learning the site).</li>"
            + "<li><b>Band</b>: where noise alone keeps the line, 3 standard deviations around the baseline: expected ± 3√expected "
            + "for one minute, ± 3√(expected ÷ n) for the mean of n (Poisson noise; binomial for the 5xx share; for small counts, "
            + "up to the largest count noise reaches more often than once in 740).</li>"
            + "<li><b>Shaded</b>: alert episodes, from their first to their last minute; the tick at the bottom marks the minute the alert was raised.</li>"
            + "</ul>"
        let notCharted = Set(episodes.map(\.event.site)).subtracting(sites).count
        for (index, site) in sites.enumerated() {
            out += siteCard(
                site, index: index + 1, trace: trace, episodes: episodes.filter { $0.event.site == site },
                configuration: configuration)
        }
        if notCharted > 0 {
            out +=
                "<p class=\"note\">\(notCharted) more site\(notCharted == 1 ? "" : "s") with episodes \(notCharted == 1 ? "is" : "are") listed under Alerts, not charted.</p>"
        }
        return out + "</section>\n"
    }

    private static func siteCard(
        _ site: String, index: Int, trace: DetectionTrace, episodes: [AlertEpisode],
        configuration: DetectorConfiguration
    ) -> String {
        let errors = trace.errors(site: site)
        let requests = errors.map { $0.requests.reduce(0, +) } ?? 0
        let errorCount = errors.map { $0.errors.reduce(0, +) } ?? 0
        var meta = ["\(TextReport.number(UInt64(requests.rounded()))) requests"]
        if requests > 0 { meta.append("5xx \(shareText(errorCount / requests))") }
        meta.append(episodes.isEmpty ? "no alerts" : "\(episodes.count) episode\(episodes.count == 1 ? "" : "s")")
        var out =
            "<article class=\"site\" id=\"site-\(index)\"><header><h3>\(Escaping.html(site))</h3>"
            + "<p class=\"meta\">\(meta.joined(separator: " · "))</p></header>"
        for country in configuration.watchedCountries {
            let surges = episodes.filter { $0.event.kind == .surge && $0.event.country == country }
            // A watched country that never visited the site gets a line, not an empty chart.
            guard let series = trace.surge(site: site, country: country), !surges.isEmpty || series.values.contains(where: { $0 > 0 })
            else {
                out += "<p class=\"note\">No request from \(Escaping.html(country.description)).</p>"
                continue
            }
            out += watchedChart(series, site: site, trace: trace, episodes: surges)
        }
        if let errors, requests > 0 {
            out += errorChart(errors, site: site, trace: trace, episodes: episodes.filter { $0.event.kind == .errorSpike })
        }
        return out + "</article>\n"
    }

    private static func shades(_ episodes: [AlertEpisode], trace: DetectionTrace, cssClass: String) -> [TimeChart.Shade] {
        let last = trace.lastMinute
        return episodes.map { episode in
            TimeChart.Shade(
                start: episode.event.start, end: episode.event.end ?? last, raisedAt: episode.event.raisedAt,
                label: "#\(episode.event.id)", cssClass: cssClass)
        }
    }

    /// Lines naming the episodes that overlap `columns`, for a tooltip.
    private static func episodeLines(_ episodes: [AlertEpisode], columns: Range<Int>, trace: DetectionTrace) -> String {
        let from = trace.minute(ofColumn: columns.lowerBound)
        let to = trace.minute(ofColumn: columns.upperBound - 1) + Int32(trace.minutes(inColumn: columns.upperBound - 1) - 1)
        let last = trace.lastMinute
        return episodes.filter { $0.event.start <= to && ($0.event.end ?? last) >= from }.map { episode in
            let kind =
                switch episode.event.kind {
                case .surge: "surge"
                case .drop: "drop"
                case .errorSpike: "5xx spike"
                }
            return "\n\(kind) #\(episode.event.id): \(time(episode.event.start)) – \(episode.event.end.map(time) ?? "open")"
        }.joined()
    }

    private static func watchedChart(
        _ series: DetectionTrace.Surge, site: String, trace: DetectionTrace, episodes: [AlertEpisode]
    ) -> String {
        let country = Escaping.html(series.country.description)
        let bands = series.baselines.indices.map { column in
            series.baselines[column].map { poissonBand($0, minutes: trace.minutes(inColumn: column)) }
        }
        let top = max(series.values.max() ?? 0, bands.compactMap { $0?.high }.max() ?? 0, 1)
        let chart = TimeChart(
            firstMinute: trace.firstMinute, minuteCount: trace.minuteCount, minutesPerColumn: trace.minutesPerColumn,
            columnCount: trace.columnCount, maximum: top * 1.05, height: 220, label: { TextReport.number(Int($0.rounded())) })
        let lines: [TimeChart.Line] = [
            .init(values: series.baselines, cssClass: "baseline"), .init(values: series.values, cssClass: "series"),
        ]
        let total = (0..<trace.columnCount).reduce(0.0) { $0 + series.values[$1] * Double(trace.minutes(inColumn: $1)) }
        let title = "\(country) requests per minute to \(Escaping.html(site))"
        let svg = chart.render(
            title: title, lines: lines, bands: [.init(ranges: bands, cssClass: "band")],
            shades: shades(episodes, trace: trace, cssClass: "shade surge")
        ) { columns in
            var minutes = 0.0, sum = 0.0, busiest = 0.0, expected = 0.0, expectedMinutes = 0.0
            for column in columns {
                let weight = Double(trace.minutes(inColumn: column))
                minutes += weight
                sum += series.values[column] * weight
                busiest = max(busiest, series.peaks[column])
                if let baseline = series.baselines[column] { expected += baseline * weight; expectedMinutes += weight }
            }
            var text = "\(span(columns, trace: trace))\n\(country): \(decimal(minutes > 0 ? sum / minutes : 0)) requests/min"
            if minutes > Double(series.stepMinutes) { text += ", \(series.busiestName) \(decimal(series.busiest(busiest)))" }
            if expectedMinutes > 0 {
                let band = poissonBand(expected / expectedMinutes, minutes: Int(expectedMinutes))
                text += "\nexpected \(decimal(expected / expectedMinutes))/min, noise band \(decimal(band.low))–\(decimal(band.high))"
            } else {
                text += "\nno baseline yet"
            }
            return text + episodeLines(episodes, columns: columns, trace: trace)
        }
        let peak = series.busiest(series.peaks.max() ?? 0)
        var legend = key("series", "requests/min") + key("baseline", "baseline") + key("band", "noise band")
        if !episodes.isEmpty { legend += key("shade-surge", "surge episode") }
        return "<figure><figcaption><span class=\"what\">\(country) requests per minute</span>"
            + "<span class=\"stat\">\(TextReport.number(UInt64(max(0, total).rounded()))) requests, \(series.busiestName) \(TextReport.number(UInt64(max(0, peak).rounded())))</span>"
            + "<span class=\"legend\">\(legend)</span></figcaption>\(svg)</figure>"
    }

    private static func errorChart(_ series: DetectionTrace.Errors, site: String, trace: DetectionTrace, episodes: [AlertEpisode]) -> String
    {
        let shares = series.shares
        let bands = series.baselines.indices.map { column in
            series.baselines[column].flatMap { binomialBand($0, requests: series.requests[column]) }
        }
        let top = max(shares.compactMap { $0 }.max() ?? 0, (series.baselines.compactMap { $0 }.max() ?? 0) * 2, 0.01)
        let chart = TimeChart(
            firstMinute: trace.firstMinute, minuteCount: trace.minuteCount, minutesPerColumn: trace.minutesPerColumn,
            columnCount: trace.columnCount, maximum: top * 1.05, height: 150, label: { shareText($0, tick: true) },
            ticksAsShare: true)
        let title = "5xx share per minute of \(Escaping.html(site))"
        let svg = chart.render(
            title: title, lines: [.init(values: series.baselines, cssClass: "baseline"), .init(values: shares, cssClass: "series errors")],
            bands: [.init(ranges: bands, cssClass: "band errors")], shades: shades(episodes, trace: trace, cssClass: "shade spike")
        ) { columns in
            var requests = 0.0, errors = 0.0, baseline = 0.0, baselineColumns = 0.0
            for column in columns {
                requests += series.requests[column]
                errors += series.errors[column]
                if let share = series.baselines[column] { baseline += share; baselineColumns += 1 }
            }
            var text = span(columns, trace: trace) + "\n"
            text +=
                requests > 0
                ? "5xx \(shareText(errors / requests)): \(TextReport.number(UInt64(errors))) of \(TextReport.number(UInt64(requests))) requests"
                : "no requests"
            text += baselineColumns > 0 ? "\nbaseline \(shareText(baseline / baselineColumns))" : "\nno baseline yet"
            return text + episodeLines(episodes, columns: columns, trace: trace)
        }
        let requests = series.requests.reduce(0, +), errors = series.errors.reduce(0, +)
        var legend = key("errors", "5xx share") + key("baseline", "baseline share") + key("band-errors", "noise band")
        if !episodes.isEmpty { legend += key("shade-spike", "5xx spike episode") }
        return "<figure><figcaption><span class=\"what\">5xx share</span>"
            + "<span class=\"stat\">\(TextReport.number(UInt64(errors))) of \(TextReport.number(UInt64(requests))) requests</span>"
            + "<span class=\"legend\">\(legend)</span></figcaption>\(svg)</figure>"
    }

    /// The chance noise alone takes a count above the band: one side of ± 3 standard deviations.
    static let bandTail = 0.00135

    /// Where the mean of `minutes` Poisson counts of mean `expected` stays: ± 3 standard
    /// deviations, and for small counts (where that approximation fails) up to the largest count
    /// noise reaches with a chance of `bandTail` or more.
    static func poissonBand(_ expected: Double, minutes: Int) -> (low: Double, high: Double) {
        let n = Double(max(1, minutes))
        let mean = expected.isFinite ? max(0, expected) * n : 0
        let spread = 3 * mean.squareRoot()
        var high = mean + spread
        if mean < 30 {
            var k = Int(mean)
            while k < 200, CountStatistics.poissonUpperTail(k + 1, mean: mean) >= bandTail { k += 1 }
            high = Double(k)
        }
        return (low: max(0, mean - spread) / n, high: high / n)
    }

    /// Where the 5xx share of `requests` responses stays when each is a 5xx with chance `share`:
    /// ± 3 standard deviations, exact for small counts as `poissonBand`; nil without requests.
    static func binomialBand(_ share: Double, requests: Double) -> (low: Double, high: Double)? {
        guard requests >= 1, requests.isFinite, share.isFinite else { return nil }
        let p = min(max(share, 0), 1), n = min(requests, 1e12)
        let variance = n * p * (1 - p)
        let spread = 3 * variance.squareRoot()
        var high = n * p + spread
        if variance < 30 {
            let trials = Int(n)
            var k = Int(n * p)
            while k < trials, k < Int(n * p) + 200,
                CountStatistics.binomialUpperTail(k + 1, trials: trials, probability: p) >= bandTail
            { k += 1 }
            high = Double(k)
        }
        return (low: max(0, n * p - spread) / n, high: min(n, high) / n)
    }

    private static func key(_ cssClass: String, _ text: String) -> String {
        "<span class=\"key\"><i class=\"swatch \(cssClass)\"></i>\(text)</span>"
    }

    private static func trafficSection(_ analysis: Analysis, databaseDescription: String) -> String {
        let parsed = analysis.accounting.parsed
        var out = "<section id=\"traffic\" class=\"columns\">"
        // Countries as bars.
        let countries = analysis.buckets.countriesByRequests()
        out +=
            "<div><h2>Top countries</h2><p class=\"lead\">By the GeoIP database \(Escaping.html(databaseDescription)); "
            + "share of all parsed requests.</p>"
        if countries.isEmpty {
            out += "<p class=\"none\">No requests.</p>"
        } else {
            var bars = countries.prefix(topCountries).map { country, counts in
                let code = country.isKnown ? Escaping.html(country.description) : "unknown"
                return BarChart.Bar(
                    label: code, value: Double(counts.requests),
                    text: "\(TextReport.number(counts.requests)) · \(TextReport.percent(UInt64(counts.requests), of: parsed))",
                    tooltip:
                        "\(code): \(TextReport.number(counts.requests)) requests, \(TextReport.percent(UInt64(counts.requests), of: parsed)) of all; 5xx \(TextReport.percent(UInt64(counts.status5xx), of: UInt64(counts.requests)))"
                )
            }
            if countries.count > topCountries {
                let rest = countries.dropFirst(topCountries).reduce(UInt64(0)) { $0 + UInt64($1.counts.requests) }
                let others = countries.count - topCountries
                bars.append(
                    BarChart.Bar(
                        label: "\(others) more", value: Double(rest),
                        text: "\(TextReport.number(rest)) · \(TextReport.percent(rest, of: parsed))",
                        tooltip: "\(others) more countries: \(TextReport.number(rest)) requests", cssClass: "bar other"))
            }
            out += BarChart.render(title: "Requests by country", bars: bars)
        }
        out += "</div>"
        // Sites as a table.
        let sites = analysis.buckets.sitesByRequests()
        out += "<div><h2>Sites</h2><p class=\"lead\">Requests, and the share of each status class.</p>"
        if sites.isEmpty {
            out += "<p class=\"none\">No requests.</p>"
        } else {
            out +=
                "<table class=\"sites\"><thead><tr><th>Site</th><th class=\"num\">Requests</th><th class=\"num\">2xx</th>"
                + "<th class=\"num\">3xx</th><th class=\"num\">4xx</th><th class=\"num\">5xx</th></tr></thead><tbody>"
            for (site, counts) in sites.prefix(sitesListed) {
                let requests = UInt64(counts.requests)
                let high = requests > 0 && UInt64(counts.status5xx) * 20 >= requests
                out += "<tr><td class=\"site\">\(Escaping.html(site))</td><td class=\"num\">\(TextReport.number(requests))</td>"
                for (index, count) in [counts.status2xx, counts.status3xx, counts.status4xx, counts.status5xx].enumerated() {
                    out += "<td class=\"num\(index == 3 && high ? " high" : "")\">\(TextReport.percent(UInt64(count), of: requests))</td>"
                }
                out += "</tr>"
            }
            out += "</tbody></table>"
            if sites.count > sitesListed { out += "<p class=\"note\">… and \(sites.count - sitesListed) more sites.</p>" }
        }
        return out + "</div></section>\n"
    }

    private static func accountingSection(_ analysis: Analysis, databaseDescription: String) -> String {
        let accounting = analysis.accounting
        var out = "<section id=\"accounting\"><h2>Accounting</h2>"
        // Inputs.
        out += "<h3>Inputs</h3>"
        if analysis.inputs.isEmpty {
            out += "<p class=\"none\">No input.</p>"
        } else {
            out +=
                "<div class=\"scroll\"><table class=\"inputs\"><thead><tr><th>Input</th><th>Kind</th><th>Format</th>"
                + "<th class=\"num\">Bytes read</th><th class=\"num\">Lines</th><th>Errors</th></tr></thead><tbody>"
            for input in analysis.inputs {
                out += "<tr><td class=\"mono\">\(Escaping.html(input.name))</td>"
                if let stats = input.stats {
                    let kind =
                        stats.compression == .gzip ? "gzip" + (stats.inflater.map { ", \(Escaping.html($0.description))" } ?? "") : "plain"
                    let choice =
                        switch input.formatChoice {
                        case .option: ""
                        case .detected: " <span class=\"dim\">(detected)</span>"
                        case .assumed: " <span class=\"dim\">(assumed: none recognised)</span>"
                        }
                    out +=
                        "<td>\(kind)</td><td>\(input.format.map { Escaping.html($0.name) + choice } ?? "–")</td>"
                        + "<td class=\"num\">\(TextReport.bytes(stats.bytesRead))</td>"
                } else {
                    out += "<td>not read</td><td>–</td><td class=\"num\">–</td>"
                }
                out += "<td class=\"num\">\(TextReport.number(input.lines))</td>"
                if let error = input.error {
                    let offset = error.offset.map { " (at byte \(TextReport.number($0)))" } ?? ""
                    out += "<td class=\"error\">\(Escaping.html(error.message))\(offset)</td>"
                } else {
                    out += "<td class=\"dim\">none</td>"
                }
                out += "</tr>"
            }
            out += "</tbody></table></div>"
        }
        // Lines.
        out +=
            "<h3>Lines</h3><p>\(TextReport.number(accounting.lines)) read, \(TextReport.number(accounting.parsed)) parsed "
            + "(\(TextReport.percent(accounting.parsed, of: accounting.lines))), \(TextReport.number(accounting.malformedTotal)) malformed"
            + (accounting.isBalanced ? "; every line is counted once." : "; <strong>the counts do not add up</strong>.") + "</p>"
        let reasons = MalformedReason.allCases.filter { (accounting.malformed[$0] ?? 0) > 0 }
        if !reasons.isEmpty {
            out +=
                "<table class=\"malformed\"><thead><tr><th>Reason</th><th class=\"num\">Lines</th><th>Samples (input:line)</th></tr></thead><tbody>"
            for reason in reasons {
                out +=
                    "<tr><td class=\"mono\">\(reason.rawValue)</td><td class=\"num\">\(TextReport.number(accounting.malformed[reason] ?? 0))</td><td>"
                let samples = accounting.samples.filter { $0.reason == reason }
                if !samples.isEmpty {
                    out += "<ul class=\"samples\">"
                    for sample in samples {
                        let cut = sample.bytes.count >= RunAccounting.sampleLength ? "…" : ""
                        out +=
                            "<li><span class=\"where\">\(Escaping.html(sample.input)):\(sample.line)</span> "
                            + "<code>\(Escaping.html(sample.bytes))\(cut)</code></li>"
                    }
                    out += "</ul>"
                }
                out += "</td></tr>"
            }
            out += "</tbody></table>"
        }
        // The run.
        let read = analysis.inputs.filter { $0.stats != nil }
        let raw = read.reduce(Int64(0)) { $0 + ($1.stats?.bytesRead ?? 0) }
        let text = read.reduce(Int64(0)) { $0 + ($1.stats?.decompressedBytes ?? 0) }
        let inflaters = Set(read.compactMap { $0.stats?.inflater })
        var facts: [(String, String)] = []
        if let range = analysis.buckets.minuteRange {
            let minutes = Int64(range.upperBound) - Int64(range.lowerBound) + 1
            facts.append(
                ("Time span", "\(display(range.lowerBound)) to \(display(range.upperBound)) UTC (\(TextReport.duration(minutes)))"))
        } else {
            facts.append(("Time span", "no requests"))
        }
        facts.append(("Read", "\(TextReport.bytes(raw)), \(TextReport.bytes(text)) of log text"))
        facts.append(
            (
                "GeoIP database",
                Escaping.html(databaseDescription)
                    + (accounting.geoLookupErrors > 0
                        ? "; \(TextReport.number(accounting.geoLookupErrors)) lookups hit corrupt data (counted as unknown)" : "")
            ))
        facts.append(
            (
                "gzip inflater",
                inflaters.isEmpty
                    ? "none needed"
                    : Inflater.allCases.filter(inflaters.contains).map { Escaping.html($0.description) }.joined(separator: " and ")
            ))
        facts.append(("Threads", "\(analysis.threads)"))
        if analysis.lateLines > 0 {
            facts.append(
                (
                    "Late lines",
                    "\(TextReport.number(analysis.lateLines)) arrived after the detectors had decided their minute (counted in the buckets)"
                ))
        }
        out += "<h3>Run</h3><dl class=\"facts\">"
        for (name, value) in facts { out += "<dt>\(name)</dt><dd>\(value)</dd>" }
        return out + "</dl></section>\n"
    }

    // MARK: Text

    /// `2016-11-09 02:31`.
    static func display(_ minute: Int32) -> String {
        UTCMinute.format(minute).replacingAll("T", with: " ").replacingAll("Z", with: "")
    }

    /// A `<time>` element showing `2016-11-09 02:31`.
    static func time(_ minute: Int32) -> String {
        "<time datetime=\"\(UTCMinute.format(minute))\">\(display(minute))</time>"
    }

    /// A `<time>` element showing `02:31` when on the same day as `reference`, else as `time`.
    static func time(_ minute: Int32, after reference: Int32) -> String {
        guard UTCMinute.format(minute).prefix(10) == UTCMinute.format(reference).prefix(10) else { return time(minute) }
        return "<time datetime=\"\(UTCMinute.format(minute))\">\(clock(minute))</time>"
    }

    /// `02:31`.
    static func clock(_ minute: Int32) -> String { TimeChart.timeLabel(minute) }

    /// The minutes of `columns` for a tooltip: `2016-11-09 02:30 – 02:44 UTC`.
    static func span(_ columns: Range<Int>, trace: DetectionTrace) -> String {
        let from = trace.minute(ofColumn: columns.lowerBound)
        let to = trace.minute(ofColumn: columns.upperBound - 1) + Int32(max(1, trace.minutes(inColumn: columns.upperBound - 1)) - 1)
        if from == to { return display(from) + " UTC" }
        let sameDay = UTCMinute.format(from).prefix(10) == UTCMinute.format(to).prefix(10)
        return display(from) + " – " + (sameDay ? clock(to) : display(to)) + " UTC"
    }

    /// A number with one decimal below 100, none above: `3.4`, `412`, `12,345`.
    static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if abs(value) >= 99.95 { return TextReport.number(Int(min(max(value, -9e15), 9e15).rounded())) }
        let tenths = Int((value * 10).rounded())
        return "\(tenths < 0 ? "-" : "")\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }

    /// A share as a percentage: `41.0%`, `0.34%` under 1%; `tick` drops trailing zeros (axis labels).
    static func shareText(_ share: Double?, tick: Bool = false) -> String {
        guard let share, share.isFinite else { return "–" }
        let percent = share * 100
        let decimals = percent != 0 && abs(percent) < 1 ? 2 : 1
        let scale = decimals == 2 ? 100.0 : 10.0
        let scaled = Int((min(max(percent, -1e12), 1e12) * scale).rounded())
        let whole = abs(scaled) / Int(scale), fraction = abs(scaled) % Int(scale)
        var digits = String(fraction)
        digits = String(repeating: "0", count: decimals - digits.count) + digits
        if tick {
            while digits.hasSuffix("0") { digits.removeLast() }
        }
        return "\(scaled < 0 ? "-" : "")\(whole)\(digits.isEmpty ? "" : "." + digits)%"
    }
}
