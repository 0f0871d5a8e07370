import ArgumentParser
import Foundation
import LogSurge
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeCore
import LogSurgeDeliver
import LogSurgeDetect
import LogSurgeInput
import LogSurgeReport

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Run detection on per-minute counts already exported, without re-reading logs.",
        discussion: """
            Each FILE is a buckets CSV or JSON-lines file written by `analyze --buckets` (several are merged, e.g. one \
            per web server, for fleet-wide episodes) or a plain series of two columns \
            `timestamp,value` (header optional) at any regular interval: 1, 5, 30 minutes..., with \
            timestamps in ISO 8601 or `YYYY-MM-DD HH:MM:SS`. For a plain series, `site` is the file \
            name without its extension and `country` is null. Alerts go to standard output or \
            --alerts FILE (then a short summary goes to standard error, as it does when standard \
            output is not a terminal); the detector options are those of analyze.

            Examples:
              logsurge detect web1.csv web2.csv web3.csv
              logsurge detect --surge-ratio 4 --alerts tuned.jsonl minutes.csv
              logsurge detect visits-30min.csv
            """
    )

    @Option(help: ArgumentHelp("Write alerts to FILE instead of standard output.", valueName: "FILE"))
    var alerts: String = "-"

    @Flag(help: "Exit with status 3 when any alert was raised (and every file was read).")
    var failOnAlert = false

    @OptionGroup(title: "Detection")
    var detector: DetectorOptions

    @OptionGroup(title: "Alert delivery")
    var deliveryOptions: DeliveryOptions

    @Argument(help: ArgumentHelp("Bucket CSVs or timestamp,value series.", valueName: "FILE"))
    var files: [String]

    /// A few lines on what was read and raised.
    static func summary(files: Int, buckets: MinuteBuckets?, series: [CountSeriesReader.Series], events: [AlertEvent]) -> String {
        var read: [String] = []
        if let buckets {
            let sites = buckets.requestsBySite().count
            var text = "\(buckets.count) bucket\(buckets.count == 1 ? "" : "s") of \(sites) site\(sites == 1 ? "" : "s")"
            if let range = buckets.minuteRange {
                text += ", \(UTCMinute.format(range.lowerBound)) to \(UTCMinute.format(range.upperBound))"
            }
            read.append(text)
        }
        for one in series {
            var text = "series \(Escaping.terminal(one.name.utf8)): \(one.points.count) steps of \(one.stepMinutes) min"
            if let first = one.points.first, let last = one.points.last {
                text += ", \(UTCMinute.format(first.minute)) to \(UTCMinute.format(last.minute))"
            }
            read.append(text)
        }
        let opened = events.filter { $0.state == .open }
        var kinds: [String] = []
        for (kind, name) in [(AlertEvent.Kind.surge, "surge"), (.drop, "drop"), (.errorSpike, "5xx spike")] {
            let count = opened.filter { $0.kind == kind }.count
            if count > 0 { kinds.append("\(count) \(name)\(count == 1 ? "" : "s")") }
        }
        return "Read \(files) file\(files == 1 ? "" : "s"): " + read.joined(separator: "; ") + "\n"
            + "Alerts: "
            + (opened.isEmpty ? "none" : "\(opened.count) episode\(opened.count == 1 ? "" : "s") (" + kinds.joined(separator: ", ") + ")")
    }

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FILE") }
        try OutputPaths.check([alerts], inputs: files)
    }

    func run() throws {
        let sink: OutputSink
        do { sink = try OutputSink(path: alerts) } catch { throw UsageError(description: error.description) }
        let delivery = try deliveryOptions.start(streaming: false)
        var merged = MinuteBuckets()
        var haveBuckets = false
        var series: [CountSeriesReader.Series] = []
        var failed = false
        for file in files {
            do {
                let (content, skipped) = try CountSeriesReader.read(path: file)
                if skipped > 0 { warn("\(file): \(skipped) line\(skipped == 1 ? " was" : "s were") not read and left out") }
                switch content {
                case .buckets(let buckets):
                    merged.merge(buckets)
                    haveBuckets = true
                case .series(let one):
                    series.append(one)
                }
            } catch {
                warn(error.description)
                failed = true
            }
        }
        let configuration = detector.configuration
        // (Each minute's clients come as figures, not tallies: every site a minute at a time.)
        var events = haveBuckets ? Detection.run(merged, configuration: configuration, quietSitesAtLongerSteps: false) : []
        for one in series { events += Detection.run(one, configuration: configuration) }
        events = Detection.renumbered(events)
        // Every alert is delivered, even when the alerts' reader went away (`| head -1`); that
        // error ends the program after the deliveries.
        var writeError: OutputError?
        for event in events {
            delivery?.deliver(event)
            guard writeError == nil else { continue }
            do throws(OutputError) { try sink.write(AlertWriter.line(event)) } catch { writeError = error }
        }
        if writeError == nil {
            do throws(OutputError) { try sink.close() } catch { writeError = error }
        }
        let undelivered = delivery?.finishReporting().failed == true
        if let writeError { throw writeError }
        // The alerts went to a file: a person at the terminal reads what came of it.
        if alerts != "-" || isatty(STDOUT_FILENO) == 0 {
            writeStandardError(Self.summary(files: files.count, buckets: haveBuckets ? merged : nil, series: series, events: events) + "\n")
        }
        if failed || undelivered { throw ExitCode(ExitStatus.inputIncomplete) }
        if failOnAlert, events.contains(where: { $0.state == .open }) { throw ExitCode(ExitStatus.alertRaised) }
    }
}
