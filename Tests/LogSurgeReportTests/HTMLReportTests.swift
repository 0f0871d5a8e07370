import Foundation
import LogSurgeAggregate
import LogSurgeParse
import LogSurgePipelineTestSupport
@testable import LogSurge
import Testing
import LogSurgeCore
@testable import LogSurgeDetect
import LogSurgeGenerate
@testable import LogSurgeReport

@Suite struct HTMLEscapingTests {
    @Test(arguments: [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("\"><a href='x'>&amp;", "&quot;&gt;&lt;a href=&#39;x&#39;&gt;&amp;amp;"),
        ("red \u{1B}[31m", "red \\x1b[31m"),
        ("a\u{202E}b", "a\\xe2\\x80\\xaeb"),  // a bidirectional override would reorder what follows
        ("x\u{FFFE}", "x\\xef\\xbf\\xbe"),  // not a character XML allows
        ("back\\slash", "back\\\\slash"),
        ("Zürich 東京", "Zürich 東京"),
    ])
    func htmlEscapesMarkupQuotesAndInvisibleCharacters(input: String, expected: String) {
        #expect(Escaping.html(input) == expected)
    }

    @Test func htmlEscapesInvalidUTF8ByteByByte() {
        #expect(Escaping.html([0x3C, 0xFF, 0xC3, 0x00]) == "&lt;\\xff\\xc3\\x00")
    }

    @Test func everyEscapedStringParsesBackToItsTerminalForm() throws {
        // Whatever bytes: the escaped text is valid XML content and attribute text.
        var generator = SeededGenerator(seed: 6)
        for _ in 0..<200 {
            let bytes = (0..<Int(generator.next() % 40)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let escaped = Escaping.html(bytes)
            let root = try PageNode.parse("<p title=\"\(escaped)\">\(escaped)</p>")
            #expect(root.text == Escaping.terminal(bytes))
            #expect(root.attributes["title"] == Escaping.terminal(bytes))
        }
    }
}

/// The page rendered from runs of the pipeline, without the executable.
@Suite struct HTMLReportTests {
    static let database = "test database"

    static func render(_ analysis: Analysis, configuration: DetectorConfiguration = DetectorConfiguration()) -> String {
        HTMLReport.render(
            analysis, events: analysis.alerts, trace: analysis.trace, configuration: configuration,
            databaseDescription: database)
    }

    /// Two days of generated traffic with a US surge ×20 (2016-11-02 03:00Z, an hour) and 40%
    /// 5xx (16:00Z, 8 minutes), analysed with the charts' trace.
    static let surge: (analysis: Analysis, page: String) = {
        var configuration = GeneratorConfiguration()
        configuration.minutes = 2 * 1440
        configuration.peakRate = 150
        configuration.seed = 5
        configuration.events = [
            InjectedEvent(kind: .surge(country: "US", factor: 20), onset: UTCMinute.parse("2016-11-02T03:00Z")!, duration: 60, ramp: 5),
            InjectedEvent(kind: .errorSpike(share: 0.4), onset: UTCMinute.parse("2016-11-02T16:00Z")!, duration: 8),
        ]
        var generator = TrafficGenerator(configuration: configuration)
        var bytes: [UInt8] = []
        for minute in configuration.start..<(configuration.start + Int32(configuration.minutes)) {
            generator.appendLines(minute: minute, to: &bytes)
        }
        let path = Support.temporaryDirectory().appendingPathComponent("surge.log").path
        try! Support.writeFile(path, Data(bytes))
        let analysis = Support.analyze([path]) { $0.detection?.traceColumns = 720 }
        return (analysis, render(analysis))
    }()

    @Test func pageOfAGeneratedSurgeIsWellFormedAndChartsEveryWatchedSeries() throws {
        let (analysis, page) = Self.surge
        let episodes = analysis.alerts.filter { $0.state == .closed }
        try #require(episodes.map(\.kind) == [.surge, .errorSpike], "the detectors must find the injected events")
        let root = try PageNode.parse(page)
        #expect(page.hasPrefix("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\""))

        // One site: a chart of US requests and one of the 5xx share.
        let charts = root.all("svg", class: "chart")
        #expect(charts.map { $0.attributes["aria-label"] } == ["US requests per minute to -", "5xx share per minute of -"])
        let watched = charts[0], errors = charts[1]
        let band = watched.pathData("band")
        #expect(band.hasPrefix("M") && band.hasSuffix("Z") && band.count > 200)
        #expect(watched.pathData("series").count > 200)
        #expect(watched.pathData("baseline").count > 20)

        // The surge is shaded where it happened: x of its start on the chart's time axis.
        let surge = episodes[0]
        let shades = watched.all("g", class: "surge").filter { $0.classes.contains("shade") }
        try #require(shades.count == 1)
        let trace = try #require(analysis.trace)
        let plotWidth = 1100.0 - TimeChart.left - TimeChart.right
        let expectedX = TimeChart.left + Double(surge.start - trace.firstMinute) / Double(trace.minuteCount) * plotWidth
        let x = try #require(shades[0].all("rect").first?.attributes["x"].flatMap(Double.init))
        #expect(abs(x - expectedX) < 1)
        #expect(shades[0].text == "" && watched.all("text", class: "shade-label").map(\.text) == ["#\(surge.id)"])
        // … and the tooltip of the columns it covers names it.
        let tips = watched.all("g", class: "hit").flatMap { $0.all("title") }.map(\.text)
        #expect(tips.count <= TimeChart.tooltipColumns && tips.count > 50)
        #expect(tips.contains { $0.contains("surge #\(surge.id)") })
        #expect(!tips.contains { $0.contains("5xx spike") })

        // The error spike is shaded on the 5xx chart only.
        #expect(errors.all("g", class: "spike").count == 1)
        #expect(errors.all("g", class: "surge").isEmpty)
        #expect(errors.pathData("band").hasPrefix("M"))
        #expect(errors.all("g", class: "axis").flatMap { $0.all("text") }.contains { $0.text == "Wed 2 Nov" })

        // The episodes table: one row per episode, with its start.
        let rows = try #require(root.all("table", class: "episodes").first).all("tr").dropFirst()
        #expect(rows.count == 2)
        #expect(rows.first?.text.contains(HTMLReport.display(surge.start)) == true)
    }

    @Test func figuresMatchTheRun() throws {
        let (analysis, page) = Self.surge
        let root = try PageNode.parse(page)
        let figures = Dictionary(
            root.all("div", class: "figure").map { figure in
                (figure.all("div", class: "name").first?.text ?? "", figure.all("div", class: "value").first?.text ?? "")
            }, uniquingKeysWith: { first, _ in first })
        #expect(figures["Requests"] == TextReport.number(analysis.accounting.parsed))
        #expect(figures["Lines read"] == TextReport.number(analysis.accounting.lines))
        #expect(figures["Alerts"] == "2")

        // Top countries: the bars in order, with their counts and shares.
        let countries = analysis.buckets.countsByCountry().sorted { $0.value.requests > $1.value.requests }
        let labels = root.all("text", class: "bar-label").map(\.text)
        let values = root.all("text", class: "bar-value").map(\.text)
        #expect(Array(labels.prefix(3)) == countries.prefix(3).map(\.key.description))
        #expect(
            values.first == "\(TextReport.number(countries[0].value.requests)) · "
                + TextReport.percent(UInt64(countries[0].value.requests), of: analysis.accounting.parsed))
        // Every line accounted for, and the input named with its line count.
        let lines = try #require(root.all("section").first { $0.attributes["id"] == "accounting" })
        #expect(
            lines.text.contains(
                "\(TextReport.number(analysis.accounting.lines)) read, \(TextReport.number(analysis.accounting.parsed)) parsed"))
        #expect(lines.all("table", class: "inputs").first?.text.contains("surge.log") == true)
    }

    /// Hostile strings through the pipeline: a vhost and user agents that are markup, a section
    /// named with quotes and markup, a file name full of it.
    @Test func everyStringFromALogAFileNameOrTheCommandLineStaysText() throws {
        let directory = Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fileName = "a<b>&\"'.log"
        let path = directory.appendingPathComponent(fileName).path
        let agent = "<script>alert(1)</script>"
        let lines = [
            // A vhost with a quote cannot parse (a quote ends the field): malformed, its sample kept.
            "\"><script>alert(2)</script>:443 8.8.8.8 - - [09/Nov/2016:04:00:01 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"\(agent)\"",
            "www.example:443 8.8.8.8 - - [09/Nov/2016:04:00:02 +0000] \"GET / HTTP/1.1\" 2x0 10 \"-\" \"\(agent)\"",
            // Parsed: a vhost of markup, and a path inside the hostile section.
            "'><script>alert(2)</script>:443 8.8.8.8 - - [09/Nov/2016:04:00:03 +0000] \"GET / HTTP/1.1\" 500 10 \"-\" \"\(agent)\"",
            "'><script>alert(2)</script>:443 8.8.8.8 - - [09/Nov/2016:04:01:03 +0000] \"GET /en/immigration/a HTTP/1.1\" 200 10 \"-\" \"\(agent)\"",
        ]
        try Support.writeFile(path, Data((lines.joined(separator: "\n") + "\n").utf8))
        let section = "\"><svg onload=alert(3)>&amp;"
        let analysis = Support.analyze([path]) {
            $0.lines.format = .fixed(.vhostCombined)
            $0.lines.sections = [.init(name: section, prefix: "/en/immigration")]
            $0.detection?.traceColumns = 720
        }
        try #require(analysis.accounting.parsed == 2 && analysis.accounting.malformedTotal == 2)
        var configuration = DetectorConfiguration()
        configuration.watchedCountries = [CountryCode(isoCode: "US")!]
        let page = HTMLReport.render(
            analysis, events: analysis.alerts, trace: analysis.trace, configuration: configuration,
            databaseDescription: "<db>")

        #expect(!page.lowercased().contains("<script"))
        #expect(!page.lowercased().contains("<svg onload"))
        #expect(!page.contains("<db>"))
        let root = try PageNode.parse(page)
        // The strings are all there, as text: in samples, site names, the input table.
        let text = root.text
        #expect(text.contains("\"\(agent)\""))
        #expect(text.contains("\"><script>alert(2)</script>:443 8.8.8.8"))
        #expect(text.contains("'><script>alert(2)</script>"))
        #expect(text.contains("'><script>alert(2)</script>/\(section)"))
        #expect(text.contains(fileName))
        #expect(text.contains("<db>"))
        // … and in attributes, where a quote would end the value.
        #expect(root.attributeValues.contains("US requests per minute to '><script>alert(2)</script>/\(section)"))
        // No element came from the log: only the page's own.
        let names = Set(root.all { _ in true }.map(\.name))
        #expect(
            names.isSubset(of: [
                "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "section",
                "article", "div", "p", "span", "h1", "h2", "h3", "ul", "li", "b", "i", "br", "strong",
                "a", "code", "time", "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd",
                "figure", "figcaption", "svg", "g", "path", "rect", "line", "text",
            ]), "\(names)")
    }

    /// A `--state` run leaves an episode still going at its end open: the table says so and the
    /// shade runs to the last minute.
    @Test func anOpenEpisodeIsShadedToTheEnd() throws {
        let (analysis, _) = Self.surge
        let surge = try #require(analysis.alerts.first { $0.kind == .surge && $0.state == .open })
        let trace = try #require(analysis.trace)
        let page = HTMLReport.render(
            analysis, events: [surge], trace: trace, configuration: DetectorConfiguration(),
            databaseDescription: Self.database)
        let root = try PageNode.parse(page)
        let row = try #require(root.all("table", class: "episodes").first?.all("tr").last)
        #expect(row.all("span", class: "open").map(\.text) == ["open"])
        let rect = try #require(root.all("g", class: "shade").first?.all("rect").first)
        let end = (rect.attributes["x"].flatMap(Double.init) ?? 0) + (rect.attributes["width"].flatMap(Double.init) ?? 0)
        #expect(abs(end - (1100 - TimeChart.right)) < 0.2)
    }

    /// A watched country that never visited a site gets a line instead of an empty chart.
    @Test func aWatchedCountryWithoutRequestsIsNamedNotCharted() throws {
        let (analysis, _) = Self.surge
        var configuration = DetectorConfiguration()
        configuration.watchedCountries = [CountryCode(isoCode: "US")!, CountryCode(isoCode: "AQ")!]
        var withAntarctica = analysis
        withAntarctica.trace = DetectionRun(DetectionPolicy(detectors: configuration, traceColumns: 720)).run(analysis.buckets).trace
        let root = try PageNode.parse(Self.render(withAntarctica, configuration: configuration))
        #expect(root.all("svg", class: "chart").count == 2)
        #expect(root.all("p", class: "note").map(\.text).contains("No request from AQ."))
    }

    @Test func emptyInputGivesAValidPageThatSaysSo() throws {
        let path = Support.temporaryDirectory().appendingPathComponent("empty.log").path
        try Support.writeFile(path, Data())
        let analysis = Support.analyze([path]) { $0.detection?.traceColumns = 720 }
        let page = Self.render(analysis)
        let root = try PageNode.parse(page)
        #expect(root.all("svg", class: "chart").isEmpty)
        #expect(root.text.contains("No requests were read, so there is nothing to chart."))
        #expect(root.text.contains("No alert was raised."))
        #expect(root.all("title").first?.text == "logsurge report: no requests")
        #expect(root.all("div", class: "value").first?.text == "0")
    }

    @Test func noInputAtAllGivesAValidPage() throws {
        let page = Self.render(Analysis())
        #expect(try PageNode.parse(page).text.contains("No input."))
    }

    /// A week of minutes for ten sites, each with a surge: the page stays under a megabyte.
    @Test func aWeekOfTenSitesStaysSmall() throws {
        let first = UTCMinute.parse("2016-11-01T00:00Z")!
        let minutes = 7 * 1440
        let trace = DetectionTrace(minutes: first...(first + Int32(minutes - 1)), maximumColumns: 720)
        let us = CountryCode(isoCode: "US")!
        var generator = SeededGenerator(seed: 3)
        var events: [AlertEvent] = []
        for site in 0..<10 {
            let name = "site\(site).example"
            let surgeSlot = trace.surgeSlot(site: name, country: us), errorSlot = trace.errorSlot(site: name)
            for minute in first..<(first + Int32(minutes)) {
                let expected = 20 + 15 * sin(Double(minute - first) / 1440 * 2 * .pi) + Double(site)
                let surge = (4000...4200).contains(Int(minute - first)) ? 6.0 : 1.0
                let count = (expected * surge * (0.7 + 0.6 * generator.unit())).rounded()
                trace.surge(slot: surgeSlot, minute: minute, minutes: 1, count: count, baseline: minute - first > 30 ? expected : nil)
                let requests = Int(count * 4)
                trace.errors(slot: errorSlot, minute: minute, requests: requests, errors: Int(generator.next() % 3), baselineShare: 0.01)
            }
            events.append(
                AlertEvent(
                    id: site + 1, state: .closed, kind: .surge, site: name, country: us, start: first + 4000,
                    raisedAt: first + 4003, end: first + 4200, peakMinute: first + 4100, peakRequests: 300,
                    baselineRequests: 30, ratio: 10))
        }
        let page = HTMLReport.render(
            Analysis(), events: events, trace: trace, configuration: DetectorConfiguration(),
            databaseDescription: Self.database)
        let root = try PageNode.parse(page)
        #expect(root.all("article", class: "site").count == 10)
        #expect(root.all("svg", class: "chart").count == 20)
        #expect(root.all("g", class: "shade").count == 10)
        #expect(page.utf8.count < 1_000_000, "\(page.utf8.count) bytes")
    }

    @Test func ticksAndNumbers() {
        #expect(TimeChart.niceTicks(upTo: 27, count: 5) == [0, 10, 20, 30])
        let shares = TimeChart.niceTicks(upTo: 0.32, count: 4)
        #expect(shares.count == 5 && abs(shares[4] - 0.4) < 1e-12)
        #expect(TimeChart.niceTicks(upTo: .nan, count: 5).last == 1)
        #expect(TimeChart.timeStep(minutes: 5040, width: 1022) == 720)
        #expect(TimeChart.timeStep(minutes: 60, width: 1022) == 10)
        #expect(TimeChart.dayLabel(UTCMinute.parse("2016-11-09T00:00Z")!) == "Wed 9 Nov")
        #expect(TimeChart.number(12.04) == "12" && TimeChart.number(-0.25) == "-0.3" && TimeChart.number(.infinity) == "0")
        #expect(
            HTMLReport.shareText(0.0034) == "0.34%" && HTMLReport.shareText(0.41) == "41.0%"
                && HTMLReport.shareText(0.1, tick: true) == "10%")
        #expect(HTMLReport.decimal(31.46) == "31.5" && HTMLReport.decimal(1234.5) == "1,235" && HTMLReport.decimal(.nan) == "–")
    }

    @Test func bandsHoldWhatNoiseGives() throws {
        // Large counts: ± 3 standard deviations; the mean of n minutes has √n less noise.
        let wide = HTMLReport.poissonBand(400, minutes: 1), narrow = HTMLReport.poissonBand(400, minutes: 16)
        #expect(wide.low == 340 && wide.high == 460)
        #expect(narrow.low == 385 && narrow.high == 415)
        // Small counts: up to the largest count noise reaches more often than once in 740.
        let small = HTMLReport.poissonBand(1.6, minutes: 1)
        #expect(small.high == 6 && small.low == 0)
        #expect(CountStatistics.poissonUpperTail(6, mean: 1.6) >= HTMLReport.bandTail)
        #expect(CountStatistics.poissonUpperTail(7, mean: 1.6) < HTMLReport.bandTail)
        // One 5xx of ten responses at a 0.3% baseline is noise, two are not.
        let share = try #require(HTMLReport.binomialBand(0.003, requests: 10))
        #expect(share.high == 0.1)
        #expect(HTMLReport.binomialBand(0.003, requests: 0) == nil)
    }
}
