import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore
import LogSurgeDetect

/// Bars of one character a value, on a common scale.
enum Sparkline {
    static let levels = Array(" ▁▂▃▄▅▆▇█")

    /// Each value as one of 8 bars on the scale 0…`top`: any value above zero shows at least
    /// the lowest bar; only zero and nil are blank.
    static func bars(_ values: [Double?], top: Double) -> [Character] {
        let top = max(top, 1e-9)
        return values.map { value in
            guard let value, value > 0 else { return " " }
            return levels[min(8, max(1, Int((value / top * 8).rounded())))]
        }
    }

    /// `values` folded into at most `width` columns: consecutive values averaged, each weighted
    /// by `weights` (minutes); nil values are left out of their column's average.
    static func fold(_ values: [Double?], weights: [Double], into width: Int) -> [Double?] {
        let perColumn = max(1, (values.count + width - 1) / max(1, width))
        return stride(from: 0, to: values.count, by: perColumn).map { first in
            var sum = 0.0, weight = 0.0
            for index in first..<min(values.count, first + perColumn) {
                guard let value = values[index] else { continue }
                sum += value * weights[index]
                weight += weights[index]
            }
            return weight > 0 ? sum / weight : nil
        }
    }
}

extension TextReport {
    /// Columns of the watched countries' sparklines.
    static let sparklineWidth = 60
    /// Sites shown in the watched section: the busiest ones, then any other with a surge.
    static let watchedSitesShown = 5

    /// Each watched country's requests per minute to the busiest sites over the whole run,
    /// against the baseline the detector judged them by, with the surge episodes marked.
    public static func renderWatched(_ trace: DetectionTrace?, events: [AlertEvent], style: TerminalStyle = .plain) -> String {
        guard let trace, !trace.surges.isEmpty else { return "" }
        let weights = (0..<trace.columnCount).map { Double(trace.minutes(inColumn: $0)) }
        let perColumn = trace.minutesPerColumn * max(1, (trace.columnCount + sparklineWidth - 1) / sparklineWidth)
        let surges = events.filter { $0.kind == .surge && $0.state == .closed }
        // The busiest sites, then up to as many others with a surge, busiest first.
        let surged = trace.sitesByRequests().filter { site in surges.contains { $0.site == site } }
        let shown = trace.chartedSites(busiest: watchedSitesShown, most: 2 * watchedSitesShown, alsoShown: surged)

        let last = trace.lastMinute
        var out =
            "\n" + style.bold("Watched countries") + ": requests per minute against the baseline, "
            + "\(UTCMinute.format(trace.firstMinute)) … \(UTCMinute.format(last)), \(duration(Int64(perColumn))) a column\n"
        for site in shown {
            for series in trace.surges where series.site == site {
                let total = zip(series.values, weights).reduce(0) { $0 + $1.0 * $1.1 }
                let episodes = surges.filter { $0.site == site && $0.country == series.country }
                guard total > 0 || !episodes.isEmpty else { continue }
                let values = Sparkline.fold(series.values, weights: weights, into: sparklineWidth)
                let baselines = Sparkline.fold(series.baselines, weights: weights, into: sparklineWidth)
                let top = max(values.compactMap { $0 }.max() ?? 0, baselines.compactMap { $0 }.max() ?? 0)
                // The busiest minute, or for a site checked at longer steps the busiest step.
                let peak = series.busiest(series.peaks.max() ?? 0)
                let name = Escaping.terminal(site)
                let alerts =
                    episodes.isEmpty
                    ? style.dim("no surge")
                    : style.red("\(episodes.count) surge\(episodes.count == 1 ? "" : "s")")
                out +=
                    "  \(style.bold(name))  \(series.country)  \(number(UInt64(total.rounded()))) requests, \(series.busiestName) \(number(UInt64(peak.rounded()))); \(alerts)\n"

                // Columns above the baseline's noise (3 standard deviations of a Poisson count) in red.
                let observed = Sparkline.bars(values, top: top)
                var line = ""
                for (column, bar) in observed.enumerated() {
                    let above =
                        values[column].map { value in
                            let expected = baselines[column] ?? value
                            return value > expected + 3 * expected.squareRoot() + 1
                        } ?? false
                    line += above ? style.red(String(bar)) : String(bar)
                }
                out += "      observed |\(line)| requests/min\n"
                out += "      baseline |\(style.dim(String(Sparkline.bars(baselines, top: top))))|\n"
                if !episodes.isEmpty {
                    var marks = [Character](repeating: " ", count: values.count)
                    for event in episodes {
                        let from = max(0, (Int(event.start) - Int(trace.firstMinute)) / perColumn)
                        let to = min(values.count - 1, (Int(event.end ?? last) - Int(trace.firstMinute)) / perColumn)
                        if from <= to { for column in from...to { marks[column] = "^" } }
                    }
                    out += "      alerts   |\(style.red(String(marks)))|\n"
                }
            }
        }
        return out
    }
}
