import LogSurgeParse
import LogSurgeCore

/// Inline SVG charts for the HTML report: series over UTC time against a baseline, and bars.
///
/// Every coordinate is rounded to a tenth of a pixel and each series is one path, so a chart of
/// 720 columns (the most a `DetectionTrace` holds) stays near 30 KB whatever span it covers.
/// Colours come from CSS classes (`HTMLReport.styleSheet`), so one chart serves light and dark
/// schemes. Text in a chart is escaped by the caller: labels and tooltips arrive as HTML.
struct TimeChart {
    /// The minutes the x axis covers: `[firstMinute, firstMinute + minuteCount)`.
    var firstMinute: Int32
    var minuteCount: Int
    /// Columns of the series, each `minutesPerColumn` minutes (the last may cover fewer).
    var minutesPerColumn: Int
    var columnCount: Int
    /// Plotted range of the values: 0 … the top tick at or above `maximum`.
    var maximum: Double
    var width = 1100.0
    var height = 220.0
    /// Tick labels of the y axis.
    var label: (Double) -> String
    /// Draw the values as a share (0 … 1) with finer ticks.
    var ticksAsShare = false

    static let left = 64.0, right = 14.0, top = 14.0, bottom = 30.0

    /// A line of one value per column; nil breaks it.
    struct Line {
        var values: [Double?]
        var cssClass: String
    }

    /// A band of one range per column; nil breaks it.
    struct Band {
        var ranges: [(low: Double, high: Double)?]
        var cssClass: String
    }

    /// A shaded stretch of time: an alert episode.
    struct Shade {
        var start: Int32
        /// Last minute, included.
        var end: Int32
        /// The minute the episode was raised, marked with a tick.
        var raisedAt: Int32?
        /// Short label drawn at its top, already escaped.
        var label: String
        var cssClass: String
    }

    private var plotWidth: Double { width - Self.left - Self.right }
    private var plotHeight: Double { height - Self.top - Self.bottom }

    /// The top of the y axis and its ticks.
    private var yTicks: [Double] { Self.niceTicks(upTo: maximum, count: ticksAsShare ? 4 : 5) }
    private var yTop: Double { yTicks.last ?? 1 }

    private func x(minute: Double) -> Double {
        Self.left + (minute - Double(firstMinute)) / Double(max(1, minuteCount)) * plotWidth
    }

    private func x(column: Int) -> Double {
        let start = Double(column * minutesPerColumn)
        let minutes = Double(min(minutesPerColumn, minuteCount - column * minutesPerColumn))
        return x(minute: Double(firstMinute) + start + max(1, minutes) / 2)
    }

    private func y(_ value: Double) -> Double {
        let top = yTop > 0 ? yTop : 1
        return Self.top + plotHeight * (1 - min(max(value / top, 0), 1))
    }

    /// The whole `<svg>`: grid and axes, bands, shades, lines, then the tooltips' hit areas.
    func render(
        title: String, lines: [Line], bands: [Band] = [], shades: [Shade] = [],
        tooltip: (Range<Int>) -> String
    ) -> String {
        var out =
            "<svg class=\"chart\" viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" "
            + "width=\"100%\" role=\"img\" aria-label=\"\(title)\">"
        out += "<title>\(title)</title>"
        out += yAxis() + xAxis()
        for shade in shades { out += self.shade(shade) }
        for band in bands { out += "<path class=\"\(band.cssClass)\" d=\"\(bandPath(band.ranges))\"/>" }
        for line in lines { out += "<path class=\"\(line.cssClass)\" d=\"\(linePath(line.values))\"/>" }
        for shade in shades { out += label(shade) }
        out += hitAreas(tooltip)
        return out + "</svg>"
    }

    private func yAxis() -> String {
        var out = "<g class=\"grid\">"
        for tick in yTicks {
            let at = Self.number(y(tick))
            out += "<line x1=\"\(Self.number(Self.left))\" x2=\"\(Self.number(width - Self.right))\" y1=\"\(at)\" y2=\"\(at)\"/>"
        }
        out += "</g><g class=\"axis y\">"
        for tick in yTicks {
            out += "<text x=\"\(Self.number(Self.left - 8))\" y=\"\(Self.number(y(tick) + 4))\">\(label(tick))</text>"
        }
        return out + "</g>"
    }

    private func xAxis() -> String {
        let step = Self.timeStep(minutes: minuteCount, width: plotWidth)
        let baseline = Self.number(Self.top + plotHeight)
        var out =
            "<g class=\"axis x\"><line class=\"base\" x1=\"\(Self.number(Self.left))\" x2=\"\(Self.number(width - Self.right))\" y1=\"\(baseline)\" y2=\"\(baseline)\"/>"
        let first = Int(firstMinute), last = first + minuteCount
        var tick = Self.ceilDiv(first, step) * step
        while tick <= last {
            let at = Self.number(x(minute: Double(tick)))
            let midnight = Self.floorMod(tick, 1440) == 0
            out += "<line x1=\"\(at)\" x2=\"\(at)\" y1=\"\(baseline)\" y2=\"\(Self.number(Self.top + plotHeight + 5))\"/>"
            let text = midnight ? Self.dayLabel(Int32(clamping: tick)) : Self.timeLabel(Int32(clamping: tick))
            out += "<text x=\"\(at)\" y=\"\(Self.number(Self.top + plotHeight + 19))\"\(midnight ? " class=\"day\"" : "")>\(text)</text>"
            tick += step
        }
        return out + "</g>"
    }

    private func shade(_ shade: Shade) -> String {
        let from = max(Self.left, x(minute: Double(shade.start)))
        let to = min(width - Self.right, x(minute: Double(shade.end) + 1))
        var out =
            "<g class=\"\(shade.cssClass)\"><rect x=\"\(Self.number(from))\" y=\"\(Self.number(Self.top))\" "
            + "width=\"\(Self.number(max(3, to - from)))\" height=\"\(Self.number(plotHeight))\"/>"
        if let raised = shade.raisedAt {
            let at = Self.number(min(max(x(minute: Double(raised) + 0.5), Self.left), width - Self.right))
            out +=
                "<line x1=\"\(at)\" x2=\"\(at)\" y1=\"\(Self.number(Self.top + plotHeight))\" y2=\"\(Self.number(Self.top + plotHeight - 8))\"/>"
        }
        return out + "</g>"
    }

    private func label(_ shade: Shade) -> String {
        let from = max(Self.left, x(minute: Double(shade.start)))
        return "<text class=\"shade-label\" x=\"\(Self.number(from + 4))\" y=\"\(Self.number(Self.top + 12))\">\(shade.label)</text>"
    }

    /// Runs of consecutive columns whose value is present.
    private static func runs<T>(_ values: [T?]) -> [ClosedRange<Int>] {
        var runs: [ClosedRange<Int>] = []
        var column = 0
        while column < values.count {
            guard values[column] != nil else { column += 1; continue }
            var end = column
            while end + 1 < values.count, values[end + 1] != nil { end += 1 }
            runs.append(column...end)
            column = end + 1
        }
        return runs
    }

    private func linePath(_ values: [Double?]) -> String {
        let values = values.map { $0.flatMap { $0.isFinite ? $0 : nil } }
        return Self.runs(values).map { run in
            "M" + Self.points(Self.simplified(run.map { (x(column: $0), y(values[$0]!)) }))
        }.joined()
    }

    private func bandPath(_ ranges: [(low: Double, high: Double)?]) -> String {
        let ranges = ranges.map { $0.flatMap { $0.low.isFinite && $0.high.isFinite ? $0 : nil } }
        return Self.runs(ranges).map { run in
            let upper = Self.simplified(run.map { (x(column: $0), y(ranges[$0]!.high)) })
            let lower = Self.simplified(run.reversed().map { (x(column: $0), y(ranges[$0]!.low)) })
            return "M" + Self.points(upper) + " " + Self.points(lower) + "Z"
        }.joined()
    }

    private static func points(_ points: [(Double, Double)]) -> String {
        points.map { number($0.0) + " " + number($0.1) }.joined(separator: " ")
    }

    /// Points that drop no more than `tolerance` pixels from the polyline (Ramer–Douglas–Peucker):
    /// a smooth baseline of 720 columns becomes a few dozen points, a noisy series stays as it is.
    static func simplified(_ points: [(Double, Double)], tolerance: Double = 0.35) -> [(Double, Double)] {
        guard points.count > 2 else { return points }
        var keep = [Bool](repeating: false, count: points.count)
        keep[0] = true
        keep[points.count - 1] = true
        var stack = [(0, points.count - 1)]
        while let (first, last) = stack.popLast() {
            guard last > first + 1 else { continue }
            let (x0, y0) = points[first], (x1, y1) = points[last]
            let dx = x1 - x0, dy = y1 - y0
            let length = (dx * dx + dy * dy).squareRoot()
            var farthest = first, distance = -1.0
            for index in (first + 1)..<last {
                let (x, y) = points[index]
                let d = length > 0 ? abs(dy * (x - x0) - dx * (y - y0)) / length : ((x - x0) * (x - x0) + (y - y0) * (y - y0)).squareRoot()
                if d > distance { distance = d; farthest = index }
            }
            if distance > tolerance {
                keep[farthest] = true
                stack.append((first, farthest))
                stack.append((farthest, last))
            }
        }
        return points.indices.filter { keep[$0] }.map { points[$0] }
    }

    /// Transparent columns, at most `tooltipColumns` of them, each with its `<title>`.
    private func hitAreas(_ tooltip: (Range<Int>) -> String) -> String {
        let perArea = max(1, (columnCount + Self.tooltipColumns - 1) / Self.tooltipColumns)
        var out = "<g class=\"hit\">"
        for first in stride(from: 0, to: columnCount, by: perArea) {
            let columns = first..<min(columnCount, first + perArea)
            let from = x(minute: Double(Int(firstMinute) + first * minutesPerColumn)).rounded()
            let to = x(minute: Double(Int(firstMinute) + min(minuteCount, columns.upperBound * minutesPerColumn))).rounded()
            out +=
                "<rect x=\"\(Self.number(from))\" y=\"\(Self.number(Self.top))\" width=\"\(Self.number(max(1, to - from)))\" "
                + "height=\"\(Self.number(plotHeight))\"><title>\(tooltip(columns))</title></rect>"
        }
        return out + "</g>"
    }

    /// Hover areas of a chart: enough to read it, few enough to keep the page small.
    static let tooltipColumns = 100

    // MARK: Scales

    /// 0 and evenly spaced round values (1, 2, 2.5 or 5 × 10ⁿ) up to the first at or above
    /// `maximum`, about `count` of them.
    static func niceTicks(upTo maximum: Double, count: Int) -> [Double] {
        let maximum = maximum.isFinite && maximum > 0 ? maximum : 1
        let rough = maximum / Double(max(1, count))
        var magnitude = 1.0
        while magnitude * 10 <= rough { magnitude *= 10 }
        while magnitude > rough { magnitude /= 10 }
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? magnitude * 10
        var ticks: [Double] = [0]
        while ticks.last! < maximum - step * 1e-9, ticks.count < 50 { ticks.append(Double(ticks.count) * step) }
        return ticks
    }

    /// Minutes between time ticks: a round interval giving at most one label per 90 px.
    static func timeStep(minutes: Int, width: Double) -> Int {
        let most = max(2, Int(width / 90))
        let steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 40320]
        if let step = steps.first(where: { minutes / $0 <= most }) { return step }
        let weeks = (minutes / most + 10079) / 10080
        return max(1, weeks) * 10080
    }

    static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Wed 9 Nov` for a midnight tick.
    static func dayLabel(_ minute: Int32) -> String {
        let day = floorDiv(Int(minute), 1440)
        let weekday = weekdays[floorMod(day, 7)]
        let date = UTCMinute.format(minute).split(separator: "T").first.map(String.init) ?? ""
        let parts = date.split(separator: "-").suffix(2).compactMap { Int($0) }
        guard parts.count == 2, (1...12).contains(parts[0]) else { return weekday }
        return "\(weekday) \(parts[1]) \(months[parts[0] - 1])"
    }

    /// `02:30` for any other tick.
    static func timeLabel(_ minute: Int32) -> String {
        let text = UTCMinute.format(minute)
        guard let t = text.firstIndex(of: "T") else { return text }
        return String(text[text.index(after: t)...].dropLast())
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int, _ b: Int) -> Int { a - floorDiv(a, b) * b }
    static func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

    /// A coordinate to a tenth: `12`, `12.5`, `-3.2`; anything not finite is 0.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = Int((min(max(value, -1e9), 1e9) * 10).rounded())
        let whole = tenths / 10, fraction = abs(tenths % 10)
        let sign = tenths < 0 && whole == 0 ? "-" : ""
        return fraction == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}

/// Horizontal bars with a label on the left and the value on the right: the top countries.
enum BarChart {
    struct Bar {
        /// Escaped label.
        var label: String
        var value: Double
        /// Escaped text beside the bar.
        var text: String
        /// Escaped tooltip.
        var tooltip: String
        var cssClass = "bar"
    }

    static func render(title: String, bars: [Bar], width: Double = 520) -> String {
        let row = 26.0, labelWidth = 74.0, textWidth = 150.0
        let height = max(row, Double(bars.count) * row)
        let top = bars.map(\.value).max() ?? 0
        let barSpace = width - labelWidth - textWidth
        var out =
            "<svg class=\"bars\" viewBox=\"0 0 \(TimeChart.number(width)) \(TimeChart.number(height))\" "
            + "width=\"100%\" role=\"img\" aria-label=\"\(title)\"><title>\(title)</title>"
        for (index, bar) in bars.enumerated() {
            let y = Double(index) * row
            let length = top > 0 && bar.value.isFinite ? max(1, bar.value / top * barSpace) : 1
            out += "<g><title>\(bar.tooltip)</title>"
            out +=
                "<text class=\"bar-label\" x=\"\(TimeChart.number(labelWidth - 10))\" y=\"\(TimeChart.number(y + 17))\">\(bar.label)</text>"
            out +=
                "<rect class=\"\(bar.cssClass)\" x=\"\(TimeChart.number(labelWidth))\" y=\"\(TimeChart.number(y + 5))\" width=\"\(TimeChart.number(length))\" height=\"16\" rx=\"2\"/>"
            out +=
                "<text class=\"bar-value\" x=\"\(TimeChart.number(labelWidth + length + 8))\" y=\"\(TimeChart.number(y + 17))\">\(bar.text)</text></g>"
        }
        return out + "</svg>"
    }
}
