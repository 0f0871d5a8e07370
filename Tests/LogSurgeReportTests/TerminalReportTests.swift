import Foundation
import LogSurgeAggregate
import LogSurgePipelineTestSupport
import Testing
import LogSurge
import LogSurgeCore
@testable import LogSurgeDetect
@testable import LogSurgeReport

/// What the detectors record for the charts, and the terminal report drawn from it.
@Suite struct DetectionTraceTests {
    static let us = CountryCode(isoCode: "US")!

    /// The three hours with a US surge at 8× from minute 120 to 150.
    static func analysis(columns: Int) -> Analysis {
        Support.analyze([Support.surgeLogPath]) { $0.detection?.traceColumns = columns }
    }

    /// The charts of that run. (Bound to a name first: `#require(Self.analysis(columns:).trace)`,
    /// a temporary `Analysis` destroyed inside the macro's expansion, crashes in swift_release
    /// with Swift 6.3.1's debug build, while the same value bound first does not.)
    static func trace(columns: Int) -> DetectionTrace? {
        let analysis = analysis(columns: columns)
        return analysis.trace
    }

    /// Requests of `country` (all countries when nil) in the buckets.
    static func requests(_ analysis: Analysis, country: CountryCode?) -> Double {
        Double(analysis.buckets.rows().filter { country == nil || $0.country == country }.reduce(0) { $0 + $1.counts.requests })
    }

    @Test(arguments: [60, 50, 7, 720])
    func columnsKeepEveryRequestWhateverTheirWidth(columns: Int) throws {
        let analysis = Self.analysis(columns: columns)
        let trace = try #require(analysis.trace)
        #expect(trace.minuteCount == 180)
        #expect(trace.columnCount <= columns)
        #expect(trace.columnCount * trace.minutesPerColumn >= 180)
        #expect((trace.columnCount - 1) * trace.minutesPerColumn < 180)
        let weights = (0..<trace.columnCount).map { Double(trace.minutes(inColumn: $0)) }
        #expect(weights.reduce(0, +) == 180)
        let us = try #require(trace.surge(site: "-", country: Self.us))
        let usTotal = zip(us.values, weights).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(usTotal - Self.requests(analysis, country: Self.us)) < 1e-6)
        let errors = try #require(trace.errors(site: "-"))
        #expect(errors.requests.reduce(0, +) == Self.requests(analysis, country: nil))
        #expect(errors.errors.reduce(0, +) == Double(analysis.buckets.rows().reduce(0) { $0 + $1.counts.status5xx }))
        // No column's busiest minute is below its average.
        #expect(zip(us.peaks, us.values).allSatisfy { $0 >= $1 - 1e-9 })
    }

    @Test func surgeColumnsStandAboveTheirBaselineAndWarmUpHasNone() throws {
        let trace = try #require(Self.trace(columns: 60))  // 3 minutes a column
        #expect(trace.minutesPerColumn == 3)
        let us = try #require(trace.surge(site: "-", country: Self.us))
        // The detectors need 30 minutes of history before they have a baseline.
        #expect(us.baselines.prefix(10).allSatisfy { $0 == nil })
        #expect(us.baselines[20...].allSatisfy { $0 != nil })
        func above(_ column: Int) -> Bool {
            let baseline = us.baselines[column]!
            return us.values[column] > baseline + 3 * baseline.squareRoot() + 1
        }
        // Minutes 120–149 are the surge: columns 40–49 (one column of ramp allowed each side).
        #expect((41...48).allSatisfy(above))
        #expect((20...38).filter(above).count <= 1)
        #expect((52..<60).filter(above).count <= 1)
    }

    @Test("a stream's charts are those of the run that decided its minutes: a late line is in the buckets, not in the charts")
    func aStreamsChartsComeFromTheRunThatRaisedItsAlerts() throws {
        // The three hours, then a line for their first minute again: too late for the detectors.
        var log = Support.surgeLog
        log += Array("8.8.8.8 - - [08/Nov/2016:15:00:10 -0500] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n".utf8)
        let path = Support.temporaryDirectory().appendingPathComponent("late-chart.log").path
        try Support.writeFile(path, Data(log))
        let streamed = Support.analyze([path]) {
            $0.detection?.lateness = 3; $0.detection?.traceColumns = 60; $0.reading.chunkSize = 4096
        }
        #expect(streamed.lateLines == 1)
        let trace = try #require(streamed.trace, "recorded as the stream was decided")
        // A power of two of minutes a column, the span from the first minute decided to the last.
        #expect(trace.minutesPerColumn == 4 && trace.columnCount == 45 && trace.minuteCount == 180)
        let errors = try #require(trace.errors(site: "-"))
        #expect(
            errors.requests.reduce(0, +) == Self.requests(streamed, country: nil) - 1, "the late line left out, as the detectors left it")
        let us = try #require(trace.surge(site: "-", country: Self.us))
        let weights = (0..<trace.columnCount).map { Double(trace.minutes(inColumn: $0)) }
        #expect(
            abs(zip(us.values, weights).reduce(0) { $0 + $1.0 * $1.1 } - (Self.requests(streamed, country: Self.us) - 1)) < 1e-6,
            "8.8.8.8 is in the US")
        // The same steps as a batch run's, in other columns: the baselines agree where a column
        // of one is the union of columns of the other (the first 12 minutes: 3 of 4, 4 of 3).
        let batch = try #require(Self.trace(columns: 60))
        let batchUS = try #require(batch.surge(site: "-", country: Self.us))
        #expect(batch.minutesPerColumn == 3)
        for block in 10..<15 {
            let fromStream = (0..<3).map { us.values[3 * block + $0] * 4 }.reduce(0, +)
            let fromBatch = (0..<4).map { batchUS.values[4 * block + $0] * 3 }.reduce(0, +)
            #expect(abs(fromStream - fromBatch) < 1e-6)
        }
        #expect(us.baselines.prefix(5).allSatisfy { $0 == nil } && us.baselines[10...].allSatisfy { $0 != nil })
    }
}

@Suite struct TerminalReportTests {
    static let analysis = DetectionTraceTests.analysis(columns: 720)

    @Test func watchedCountryIsDrawnAgainstItsBaselineWithTheSurgeMarked() throws {
        let trace = try #require(Self.analysis.trace)
        let report = TextReport.renderWatched(trace, events: Self.analysis.alerts)
        #expect(report.contains("Watched countries: requests per minute against the baseline"))
        #expect(report.contains("  -  US  "))
        #expect(report.contains("1 surge"))
        let lines = report.split(separator: "\n").map(String.init)
        let observed = try #require(lines.first { $0.contains("observed |") })
        let marks = try #require(lines.first { $0.contains("alerts   |") })
        let bars = Array(observed.split(separator: "|")[1]), carets = Array(marks.split(separator: "|")[1])
        #expect(bars.count == TextReport.sparklineWidth && carets.count == bars.count)
        // 3 minutes a column: the surge (minutes 120–150) is marked around columns 40–50, and the
        // tallest bar is inside it.
        let marked = carets.indices.filter { carets[$0] == "^" }
        #expect(!marked.isEmpty && marked.allSatisfy { (38...52).contains($0) }, "\(marks)")
        let tallest = bars.indices.max { Sparkline.levels.firstIndex(of: bars[$0])! < Sparkline.levels.firstIndex(of: bars[$1])! }!
        #expect(marked.contains(tallest), "\(observed)")
        #expect(!report.contains("\u{1B}"))
    }

    @Test("an episode still open at the last minute read (a --state night) is shown, not \"Alerts: none\"")
    func openEpisodesAreShown() {
        let open = AlertEvent(
            id: 7, state: .open, kind: .surge, site: "www.example", country: CountryCode(isoCode: "US"),
            start: 24_644_280, raisedAt: 24_644_282, end: nil, peakMinute: 24_644_282, peakRequests: 90,
            baselineRequests: 10, ratio: 9, peakErrorRate: nil, baselineErrorRate: nil)
        let report = TextReport.renderEpisodes([open], configuration: DetectorConfiguration())
        #expect(report.contains("1 episode") && report.contains("#7 surge") && report.contains("still open"), "\(report)")
        #expect(!report.contains("none"))
        // Closed since, it is shown once, closed.
        var closed = open
        closed.state = .closed
        closed.end = 24_644_300
        let both = TextReport.renderEpisodes([open, closed], configuration: DetectorConfiguration())
        #expect(both.contains("1 episode") && !both.contains("still open"), "\(both)")
    }

    @Test func colourIsOnlyLogsurgesOwnSGRSequences() throws {
        let hostile = "evil\u{1B}]0;pwned\u{07}\u{1B}[2J.example"
        var analysis = Self.analysis
        let coloured =
            TextReport.render(analysis, databaseDescription: "db", style: .coloured)
            + TextReport.renderWatched(analysis.trace, events: analysis.alerts, style: .coloured)
            + TextReport.renderEpisodes(analysis.alerts, configuration: DetectorConfiguration(), style: .coloured)
        #expect(coloured.contains("\u{1B}[1mWatched countries\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[31m"))
        // Every escape is a Select Graphic Rendition sequence: ESC [ digits m.
        let sgr = try Regex("\u{1B}\\[[0-9;]*m")
        #expect(!coloured.replacing(sgr, with: "").contains("\u{1B}"))
        // Text from a log is escaped before it is coloured.
        analysis.inputs[0].name = hostile
        let report = TextReport.render(analysis, databaseDescription: hostile, style: .coloured)
        #expect(!report.replacing(sgr, with: "").contains("\u{1B}"))
        #expect(report.contains("evil\\x1b]0;pwned"))
        #expect(TextReport.render(analysis, databaseDescription: "db", style: .plain).contains("\u{1B}") == false)
    }

    @Test func noColourWhenNotATerminalOrWhenNO_COLORIsSet() {
        // File descriptor 0 of a test run is not a terminal here; a pipe certainly is not.
        let pipe = Pipe()
        let descriptor = pipe.fileHandleForWriting.fileDescriptor
        #expect(TerminalStyle.forDescriptor(descriptor, environment: [:]) == .plain)
        #expect(TerminalStyle.forDescriptor(descriptor, environment: ["NO_COLOR": "1"]) == .plain)
        #expect(TerminalStyle.plain.red("x") == "x")
        #expect(TerminalStyle.coloured.red("x") == "\u{1B}[31mx\u{1B}[0m")
        #expect(TerminalStyle.coloured.red("") == "")
    }

    @Test func sparklineBarsAndFolding() {
        #expect(String(Sparkline.bars([0, nil, 1, 4, 8], top: 8)) == "  ▁▄█")
        #expect(String(Sparkline.bars([0.001], top: 8)) == "▁")  // above zero is never blank
        // Weighted by minutes: a short last column counts for less.
        let folded = Sparkline.fold([2, 4, 6, nil, 10], weights: [1, 1, 1, 1, 0.5], into: 2)
        #expect(folded.count == 2)
        #expect(folded[0] == 4)
        #expect(folded[1] == 10)
        #expect(Sparkline.fold([nil, nil], weights: [1, 1], into: 1) == [nil])
    }
}
