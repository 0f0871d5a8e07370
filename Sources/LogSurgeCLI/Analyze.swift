import ArgumentParser
import CLogSurgeSystem
import Foundation
import LogSurge
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import LogSurgeState
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDeliver
import LogSurgeDetect
import LogSurgeReport

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Count requests per UTC minute, site and country (the default command).",
        discussion: """
            PATH is a file, a directory or `-` for standard input; no PATH means standard input. \
            gzip is recognised by its content, multi-member files are read to the end. A directory \
            means its access-log files grouped by base name, each group oldest first \
            (name.N.gz ... name.2.gz name.1 name, and name-YYYYMMDD[.gz] in date order); hidden files \
            and files whose name contains "error" are skipped.

            Exit status: 0 when every input was read, 1 when some input could not be read to its \
            end (everything readable is still counted and reported) or an output could not be \
            written (a full disk), 2 for usage errors.

            Examples:
              logsurge /var/log/nginx/
              zcat access.log.*.gz | logsurge --buckets minutes.csv
              logsurge --format vhost_combined --buckets - --quiet vhosts.log > b.csv
              logsurge --section immigration=/en/immigration --summary run.json access.log
              logsurge --follow --alerts alerts.jsonl /var/log/nginx/access.log
              logsurge --state state.db --quiet --alerts new-alerts.jsonl /var/log/nginx/
              logsurge -F --quiet --metrics logsurge.prom /var/log/nginx/access.log
              logsurge --html report.html --watch-country US --watch-country MX a.log
              logsurge -F --alertmanager http://alertmanager:9093 /var/log/nginx/access.log

            With --follow (-F), the named files are read from their start and then as they grow, \
            across rotation by rename or copytruncate, until SIGINT or SIGTERM; alerts are written \
            as they are raised, buckets and the summary at the end. A pipe is read the same way: \
            `tail -F access.log | logsurge --alerts - -` ends cleanly on SIGINT too.

            With --state FILE, a SQLite file remembers which inputs were read and how far (known \
            by their first bytes, so a renamed or compressed log is not read twice) and the \
            per-minute counts of every run: a nightly run reads only what is new, and reports the \
            alerts decided in the minutes it added, as one run over everything would.

            With --alertmanager URL, each episode is posted to Alertmanager when it opens, every 30 s \
            while it stays open, and when it closes; with --webhook URL, each alert line is POSTed as \
            it is raised or closed. Slow or absent receivers are retried from bounded queues without \
            holding the reading back; a post given up makes the exit status 1.

            With --html FILE, one self-contained page (inline SVG charts and styles, no script, \
            nothing fetched) shows each busy site's watched countries per minute against the \
            baseline and its noise band, the 5xx share, the episodes shaded, the top countries and \
            the accounting; it is written at the end of the run. A followed log's or a pipe's page is \
            written as the run starts and every minute, and reloads itself in the browser until the run ends.
            """
    )

    @OptionGroup(title: "Formats, real clients and countries")
    var formatOptions: FormatOptions

    @Option(help: ArgumentHelp("A MaxMind DB (.mmdb) country database; the embedded one by default.", valueName: "FILE"))
    var geoip: String?

    @Option(help: ArgumentHelp("Site name for lines whose format carries no virtual host.", valueName: "NAME"))
    var site: String = "-"

    @Option(
        help: ArgumentHelp(
            "Requests whose path starts with PREFIX belong to site HOST/NAME (NAME without a host); repeatable, the longest prefix wins.",
            valueName: "NAME=PREFIX"))
    var section: [String] = []

    @Option(
        help: ArgumentHelp("Per-minute buckets as CSV, or JSON lines when FILE ends in .jsonl; `-` for standard output.", valueName: "FILE")
    )
    var buckets: String?

    @Option(help: ArgumentHelp("The run's accounting as one JSON object; `-` for standard output.", valueName: "FILE"))
    var summary: String?

    @Option(
        help: ArgumentHelp(
            "Alert episodes as JSON lines (a line when each opens and when it closes); `-` for standard output.", valueName: "FILE"))
    var alerts: String?

    @Option(
        help: ArgumentHelp(
            "A self-contained HTML report with charts (inline SVG, no script), rewritten every minute with --follow or from a pipe; `-` for standard output.",
            valueName: "FILE"))
    var html: String?

    @Option(help: .hidden)  // seconds between rewrites of --html while a run goes on; the tests shorten it
    var htmlInterval: Double = 60

    @OptionGroup(title: "Prometheus metrics")
    var metricsOptions: MetricsOptions

    @OptionGroup(title: "Alert delivery")
    var deliveryOptions: DeliveryOptions

    @Flag(help: "Exit with status 3 when any alert was raised (and all input was read).")
    var failOnAlert = false

    @OptionGroup(title: "Detection")
    var detector: DetectorOptions

    @Option(
        help: ArgumentHelp(
            "Parse workers, and threads that step the detectors' sites side by side (default: the active processor count). Output is identical for every value.",
            valueName: "N"))
    var threads: Int?

    @Option(
        help: ArgumentHelp(
            "Bytes of whole lines handed to a worker at once (default 2 MiB). Output is identical for every value.", valueName: "BYTES"), )
    var chunkSize: Int = Limits.chunkSize

    @Option(
        help: ArgumentHelp(
            "The gzip inflater: auto (ISA-L when its library is present, else zlib), zlib or isal.", valueName: "auto|zlib|isal"))
    var inflate: String = "auto"

    @Flag(help: "No human-readable report.")
    var quiet = false

    @Option(
        help: ArgumentHelp(
            "Remember the inputs already read and the detectors' history between runs, in this SQLite file: a nightly run reads only what is new.",
            valueName: "FILE"))
    var state: String?

    @Option(
        help: ArgumentHelp(
            "With --state, wait at most this long for another run that holds the state file, then fail before reading anything (exit 2). By default, as long as it takes.",
            valueName: "SECONDS"))
    var stateWait: Double?

    @Flag(
        name: [.customLong("follow"), .customShort("F")],
        help: "Keep reading the named files as they grow, across rotation, until SIGINT/SIGTERM.")
    var follow = false

    @Option(
        help: ArgumentHelp(
            "Reading a pipe or following: after this many seconds without a new line, decide the minutes still waiting for later lines (an alert is never held back by a log that went quiet), and, when the log is live (its newest line within 5 minutes of the clock), count each further quiet minute as one without requests.",
            valueName: "SECONDS"))
    var idleFlush: Double = 60

    @Argument(help: ArgumentHelp("Files, directories, or `-` for standard input.", valueName: "PATH"))
    var paths: [String] = []

    func validate() throws {
        switch inflate {
        case "auto", "zlib": break
        case "isal":
            if let why = Inflater.isalUnavailableReason { throw ValidationError("--inflate isal: ISA-L cannot be used here: \(why)") }
        default: throw ValidationError("unknown inflater '\(inflate)': use auto, zlib or isal")
        }
        if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be between 1 and 1024") }
        if !(1...(1 << 30)).contains(chunkSize) { throw ValidationError("--chunk-size must be between 1 and 1 GiB") }
        for rule in section {
            guard let sectionRule = Self.parseSection(rule) else {
                throw ValidationError("--section '\(rule)' must look like NAME=PREFIX, e.g. immigration=/en/immigration")
            }
            _ = sectionRule
        }
        if paths.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        if !(htmlInterval >= 0.05 && htmlInterval <= 86_400) { throw ValidationError("--html-interval must be between 0.05 and 86400") }
        if !(idleFlush >= 0.05 && idleFlush <= 86_400) { throw ValidationError("--idle-flush must be between 0.05 and 86400 seconds") }
        if let stateWait, !(stateWait >= 0 && stateWait <= 1e9) {
            throw ValidationError("--state-wait must be a number of seconds, 0 or more")
        }
        if stateWait != nil, state == nil { throw ValidationError("--state-wait is for --state") }
        if state != nil, follow || paths.isEmpty || paths.contains("-") {
            throw ValidationError("--state remembers files and directories read to their end; not with --follow or standard input")
        }
        if follow {
            if paths.isEmpty || paths.contains("-") {
                throw ValidationError("--follow reads named files; a pipe is read as it comes without it: tail -F FILE | logsurge -")
            }
            var isDirectory: ObjCBool = false
            for path in paths where FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue {
                throw ValidationError("--follow reads files, and '\(path)' is a directory: name the log files in it")
            }
        }
        if outputs.filter({ $0 == "-" }).count > 1 {
            throw ValidationError("only one output can go to standard output (-)")
        }
        try OutputPaths.check(outputs + (state.map { [$0] } ?? []), inputs: paths)
    }

    static func parseSection(_ rule: String) -> AnalyzeConfiguration.Section? {
        guard let equals = rule.firstIndex(of: "=") else { return nil }
        let name = String(rule[..<equals]), prefix = String(rule[rule.index(after: equals)...])
        guard !name.isEmpty, !prefix.isEmpty else { return nil }
        return AnalyzeConfiguration.Section(name: name, prefix: prefix)
    }

    func run() throws {
        // Configuration first: a bad database or an unwritable output fails before any input is read.
        let database = try openDatabase(geoip)
        // The state is locked for the whole run: a second run waits here, before opening any
        // output or reading anything.
        let stateWait = self.stateWait
        let runState = try state.map { path throws -> RunState in
            do {
                return try RunState(path: path, wait: stateWait, detectors: detector.configuration) {
                    warn(
                        "\(path): another logsurge run holds this state file; waiting for it to finish"
                            + (stateWait.map { " (at most \($0) s, --state-wait)" } ?? ""))
                }
            } catch let error as StateError { throw UsageError(description: error.description) }
        }
        let outputs = try openOutputs()
        let delivery = try deliveryOptions.start(streaming: streaming)
        let policy = detectionPolicy(outputs)
        var configuration = try plan(database: database, outputs: outputs, policy: policy, delivery: delivery)
        // With --state, what earlier runs read is passed over, and the detectors run over every
        // run's buckets instead of this run's alone (`night`).
        var stateInputs: [RunState.Input] = []
        if let runState {
            // Each file is opened once, identified from that descriptor and read through it.
            stateInputs = try stateError { try runState.prepare(&configuration, paths: paths) }
            configuration.detection = nil
        }

        // Standard input left on a terminal (a bare `logsurge`): say so, rather than wait in silence.
        let typing = (paths.isEmpty || paths.contains("-")) && isatty(STDIN_FILENO) != 0
        if typing {
            warn(
                "reading access-log lines from standard input (this terminal): paste lines, then Ctrl-D to end; "
                    + "give files or directories to read them instead (logsurge --help)")
        }
        // A long batch run on a terminal shows how far it got (not a followed stream, nor --quiet).
        let progress = quiet || follow || typing ? nil : ProgressLine(total: Self.totalBytes(paths))
        // The buckets are written while the detectors run over them.
        var analysis = try AnalysisPipeline(configuration: configuration).run(paths: paths) { counted in
            progress?.finish()
            guard let bucketSink = outputs.buckets else { return }
            try BucketFile.write(counted.buckets.sortedRows(), format: .init(path: bucketSink.name), to: bucketSink)
            try bucketSink.close()
        }
        progress?.finish()
        var stateUnwritten = false
        if let runState {
            stateUnwritten = try night(
                runState, policy: policy, inputs: stateInputs, analysis: &analysis, alerts: outputs.alertStream, delivery: delivery)
        }
        // What is still waiting is delivered before the summary and the metrics count it.
        let undelivered = delivery.map { delivery in
            let (counts, failed) = delivery.finishReporting()
            analysis.deliveries = counts
            return failed
        }
        try write(analysis, to: outputs, database: database)
        if !analysis.inputErrors.isEmpty || stateUnwritten || undelivered == true { throw ExitCode(ExitStatus.inputIncomplete) }
        if failOnAlert, analysis.alerts.contains(where: { $0.state == .open }) { throw ExitCode(ExitStatus.alertRaised) }
    }

    /// The run's outputs, opened before any input is read.
    struct Outputs {
        var buckets: OutputSink?
        var summary: OutputSink?
        var alertStream: AlertStream?
        var metrics: MetricsFile?
        var html: OutputSink?
        var report: OutputSink?
        var style: TerminalStyle
    }

    private func openOutputs() throws -> Outputs {
        let bucketSink = try buckets.map { try openOutput($0) }
        let summarySink = try summary.map { try openOutput($0) }
        // Alerts of a stream are read as they come (`tail -f alerts.jsonl`): written in place.
        // Followed logs' alerts go on across restarts: what the file holds is kept, and an
        // episode it holds keeps its id (a restart reads the logs again from their start).
        let earlierAlerts = follow ? alerts.flatMap { $0 == "-" ? nil : AlertLedger(existing: $0) } : nil
        let alertSink = try alerts.map { try openOutput($0, atomically: !streaming, appending: earlierAlerts != nil) }
        let metricsFile = try metricsOptions.open(watching: detector.configuration.watchedCountries)
        let htmlSink = try html.map { try openOutput($0) }
        let reportToStandardError = outputs.contains("-")
        let reportSink: OutputSink? = quiet ? nil : reportToStandardError ? .standardError() : .standardOutput()
        let style = TerminalStyle.forDescriptor(reportToStandardError ? 2 : 1, environment: ProcessInfo.processInfo.environment)
        return Outputs(
            buckets: bucketSink, summary: summarySink, alertStream: alertSink.map { AlertStream($0, ledger: earlierAlerts) },
            metrics: metricsFile, html: htmlSink, report: reportSink, style: style)
    }

    /// What the detectors are asked: the report's charts are what they saw, in columns; reading
    /// a pipe or following files, minutes are decided as the stream goes (a line may lag the
    /// newest by 3 minutes). A `--state` night asks the same, its episodes left open at the end.
    private func detectionPolicy(_ outputs: Outputs) -> DetectionPolicy {
        DetectionPolicy(
            detectors: detector.configuration, lateness: streaming ? 3 : nil,
            traceColumns: outputs.report != nil || outputs.html != nil ? Self.traceColumns : nil,
            threads: threads ?? AnalyzeConfiguration.defaultThreadCount)
    }

    /// Reading a pipe or following files: minutes are decided as the stream goes.
    private var streaming: Bool { follow || paths.isEmpty || paths.contains("-") }

    /// The run's configuration from the options: how it reads, what the detectors are asked,
    /// where its alerts go as they are raised.
    private func plan(
        database: MMDBReader, outputs: Outputs, policy: DetectionPolicy, delivery: AlertDelivery?
    ) throws
        -> AnalyzeConfiguration
    {
        var configuration = AnalyzeConfiguration(database: database, threads: threads ?? AnalyzeConfiguration.defaultThreadCount)
        configuration.reading.ownFiles = self.outputs.filter { $0 != "-" } + (state.map { [$0] } ?? [])
        if let threads, threads > AnalyzeConfiguration.maximumWorkers {
            warn(
                "--threads \(threads): \(AnalyzeConfiguration.maximumWorkers) parse workers run (4 per processor, at least 8); more could not run at once and would only add memory"
            )
        }
        (
            configuration.lines.format, configuration.lines.headers, configuration.lines.trustedProxies,
            configuration.lines.countryTrustedProxies
        ) =
            try formatOptions.resolved()
        configuration.lines.site = site
        configuration.lines.sections = section.compactMap(Self.parseSection)
        configuration.reading.chunkSize = chunkSize
        configuration.reading.inflater = Inflater(rawValue: inflate) ?? .automatic
        configuration.detection = policy
        // Each alert line of a stream is written and flushed the moment it is raised. Such a
        // stream may never end: SIGINT and SIGTERM end it, and what was read is written out as
        // at the end of any input (a second signal ends the program at once).
        let streaming = self.streaming
        if streaming {
            logsurge_install_stop_handlers()
            configuration.stop = { logsurge_stop_requested() != 0 }
        }
        configuration.follow = follow ? AnalyzeConfiguration.Follow() : nil
        configuration.idleFlush = idleFlush
        // A run that goes on keeps its metrics file fresh: rewritten every minute, and at the end.
        if streaming, let metricsFile = outputs.metrics, metricsFile.refreshes {
            configuration.snapshots = .init(interval: metricsOptions.metricsInterval) { snapshot in
                var snapshot = snapshot
                snapshot.deliveries = delivery?.counts
                metricsFile.refresh(snapshot)
            }
        }
        // A page of a run that goes on is rewritten every minute (at once first), and reloads
        // itself in the browser until the run ends. It is rendered with the merging held (it
        // reads the buckets) and written to disk after.
        if streaming, let htmlSink = outputs.html, htmlSink.replacesFile, let path = html {
            let pageFile = LivePageWriter(path: path)
            configuration.runSoFar = .init(interval: htmlInterval) { [detector, htmlInterval] analysis in
                let page = HTMLReport.render(
                    analysis, events: analysis.alerts, trace: analysis.trace, configuration: detector.configuration,
                    databaseDescription: database.shortDescription,
                    live: HTMLReport.Live(writtenAt: Date().timeIntervalSince1970, refresh: max(1, Int(htmlInterval.rounded()))))
                return { pageFile.write(page) }
            }
        }
        if outputs.alertStream != nil || delivery != nil {
            // A followed log that stops (SIGTERM, a restart) has not ended its episodes: they stay
            // open in the file, and the run that sees one end writes its close. The receivers get
            // the line as the file does (with a restart's ids).
            let follow = self.follow
            let alertStream = outputs.alertStream
            configuration.onAlert = { event in
                if follow && event.closedAtEndOfInput { return }
                guard let written = alertStream.map({ $0.write(event) }) ?? event else { return }
                delivery?.deliver(written)
            }
        }
        return configuration
    }

    /// A `--state` night: the detectors go on from where the last run left them (their
    /// snapshot), stepping the minutes after it; without one (or when this run adds earlier
    /// minutes) they are given the history they remember, their window before the first minute
    /// this run added. Either way the cost follows what was read, not the history. Sets the
    /// run's alerts and charts and records the night; true when the state could not be written.
    private func night(
        _ runState: RunState, policy: DetectionPolicy, inputs: [RunState.Input], analysis: inout Analysis,
        alerts alertStream: AlertStream?, delivery: AlertDelivery?
    ) throws -> Bool {
        let last = try stateError { try runState.lastMinute() }
        let firstNew = analysis.buckets.minuteRange?.lowerBound ?? last.map { $0 + 1 } ?? 0
        let restored = runState.restoredDetectors(
            configuration: detector.configuration, firstNew: firstNew,
            sites: analysis.buckets.siteNames)
        // Damage in an older part of the state (a run that adds old minutes reads it only now)
        // is said; the outputs are still written, from this run's buckets, and nothing is
        // recorded (exit 1).
        var unwritten = false
        let earlier: MinuteBuckets
        do { earlier = try runState.buckets(from: restored.map { $0.through + 1 } ?? firstNew - RunState.historyMinutes) } catch {
            warn(error.description)
            unwritten = true
            earlier = MinuteBuckets()
        }
        var everything = earlier
        everything.merge(analysis.buckets)
        // The snapshot for the next run leaves its last `replayMinutes` to step again.
        var kept: (through: Int32, bytes: [UInt8])?
        let snapshot = everything.minuteRange.map { range in
            (
                through: range.upperBound - RunState.replayMinutes,
                take: { (engine: DetectionEngine) in
                    kept = engine.lastMinuteStepped.map { ($0, engine.snapshot()) }
                }
            )
        }
        // Replayed, the window's events up to the last minute were reported by the runs that
        // read them. Going on from the snapshot, the minutes after it are stepped again with
        // what this run added to them (the last minute was perhaps half written): what they
        // raise or close now is reported unless it was before. Episodes going on at the last
        // minute stay open: the next night sees them go on or end.
        var night = policy
        night.closesAtEnd = false
        let outcome = DetectionRun(
            night, continuing: restored?.engine, reportingAfter: restored == nil ? last : nil,
            snapshot: snapshot
        ).run(everything)
        // What the runs that read the minutes reported is left out: a replay under another
        // configuration reports the openings of episodes that they did not.
        let detected = try stateError { try runState.unreported(outcome.events) }
        // An episode keeps the id it was first reported with, night after night.
        analysis.alerts = try stateError { try runState.stableIDs(detected) }
        // Episodes earlier nights raised that are still going on are shown by the reports and
        // the metrics (an alert is on), not written again.
        let written = Set(analysis.alerts.map(\.id))
        analysis.earlierEpisodes = try stateError { try runState.reportedEarlier(outcome.goingOn) }
            .filter { !written.contains($0.id) }
        analysis.trace = outcome.trace
        for event in analysis.alerts {
            guard let written = alertStream.map({ $0.write(event) }) ?? event else { continue }
            delivery?.deliver(written)
        }
        // Going on still: Alertmanager keeps them while the nights post them.
        delivery?.keepOpen(analysis.earlierEpisodes)
        // A state that cannot be written is said, and the outputs are still written (exit 1).
        do { if !unwritten { try runState.record(inputs, analysis: analysis, detectors: kept) } } catch {
            warn(error.description)
            unwritten = true
        }
        return unwritten
    }

    /// Says what the run noticed and writes every output but the buckets (written while the
    /// detectors ran).
    private func write(_ analysis: Analysis, to outputs: Outputs, database: MMDBReader) throws {
        for (path, readAs, sameFile) in analysis.inputsReadOnce where path != readAs {
            warn(
                "note: \(path) "
                    + (sameFile ? "is \(readAs) under another name" : "holds the same log as \(readAs) (a copy, perhaps being compressed)")
                    + ": read once, as \(readAs)")
        }
        for error in analysis.inputErrors {
            warn("\(error.path): \(error.message)")
        }
        for warning in analysis.warnings {
            warn("warning: \(warning.code.rawValue): \(warning.message)")
        }
        // The reports show the episodes of earlier runs still going on too (`--state`).
        let events = analysis.earlierEpisodes + analysis.alerts
        try outputs.alertStream?.close()
        if let summarySink = outputs.summary {
            try summarySink.write(SummaryWriter.json(for: analysis))
            try summarySink.close()
        }
        try outputs.metrics?.finish(MetricsSnapshot(analysis))
        if let htmlSink = outputs.html {
            try htmlSink.write(
                HTMLReport.render(
                    analysis, events: events, trace: analysis.trace,
                    configuration: detector.configuration, databaseDescription: database.shortDescription))
            try htmlSink.close()
        }
        if let reportSink = outputs.report {
            let style = outputs.style
            try reportSink.write(TextReport.render(analysis, databaseDescription: database.shortDescription, style: style))
            try reportSink.write(TextReport.renderWatched(analysis.trace, events: events, style: style))
            try reportSink.write(
                TextReport.renderEpisodes(
                    events, configuration: detector.configuration, sitesByStep: analysis.sitesByStep, style: style))
            try reportSink.close()
        }
    }

    /// The output files asked for; one of them may be `-`, standard output, which the report
    /// then leaves for standard error.
    private var outputs: [String] {
        [buckets, summary, alerts, html, metricsOptions.metrics].compactMap { $0 }
    }

    /// Columns of the series recorded for the reports' charts (a week is 14 minutes a column).
    static let traceColumns = 720

    /// Bytes in the files `paths` name, nil when standard input is among them.
    static func totalBytes(_ paths: [String]) -> Int64? {
        var total: Int64 = 0
        for source in InputDiscovery.expand(paths.isEmpty ? ["-"] : paths) {
            switch source {
            case .success(.file(let path)):
                var status = stat()
                if SystemPath.stat(path, &status) == 0 { total += Int64(status.st_size) }
            case .success: return nil
            case .failure: continue
            }
        }
        return total
    }

    /// Runs `body`; a state file that cannot be read or written is an error naming it (exit 1:
    /// the inputs were read, but what the next run needs could not be kept).
    private func stateError<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as StateError {
            warn(error.description)
            throw ExitCode(ExitStatus.inputIncomplete)
        }
    }

    private func openOutput(_ path: String, atomically: Bool = true, appending: Bool = false) throws -> OutputSink {
        do { return try OutputSink(path: path, atomically: atomically, appending: appending) } catch {
            throw UsageError(description: error.description)
        }
    }
}

extension MMDBReader {
    /// "database type, built YYYY-MM-DD" for the report.
    var shortDescription: String {
        let built = Date(timeIntervalSince1970: TimeInterval(metadata.buildEpoch))
        let day = ISO8601DateFormatter.string(from: built, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        return "\(metadata.databaseType), built \(day)"
    }
}

/// Writes alert lines as they come, from the merging thread, flushing each one; a write error
/// (a closed pipe) is kept and thrown when the run ends.
final class AlertStream: @unchecked Sendable {
    // Invariant: only touched under `lock`.
    private let lock = NSLock()
    private let sink: OutputSink
    private var failure: OutputError?
    /// With `--follow`, what the file held when the run began (see `AlertLedger`).
    private var ledger: AlertLedger?

    init(_ sink: OutputSink, ledger: AlertLedger? = nil) {
        self.sink = sink
        self.ledger = ledger
    }

    /// Writes `event`, and returns it as written (with a restart's id), nil when the file held
    /// it already.
    @discardableResult
    func write(_ event: AlertEvent) -> AlertEvent? {
        lock.lock()
        defer { lock.unlock() }
        guard let event = ledger == nil ? event : ledger!.admit(event) else { return nil }
        guard failure == nil else { return event }
        do throws(OutputError) {
            if ledger?.endsInsideALine == true {
                try sink.write("\n")
                ledger?.endsInsideALine = false
            }
            try sink.write(AlertWriter.line(event))
            try sink.flush()
        } catch {
            failure = error
        }
        return event
    }

    func close() throws(OutputError) {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        try sink.close()
    }
}

/// The episodes an alerts file holds already, so that a restarted `--follow` appends to it:
/// an event it holds is not written again, and a later event of an episode it holds (the
/// close of one it has open) takes that episode's id; new episodes are numbered after its
/// largest id.
struct AlertLedger {
    private struct Key: Hashable {
        var kind: String, site: String, country: String?, start: String
    }
    private var known: [Key: (id: Int, states: Set<String>)] = [:]
    /// This run's ids, as they are written.
    private var assigned: [Int: Int] = [:]
    private var nextID = 1
    /// The file ends inside a line: a newline goes first.
    var endsInsideALine = false

    /// The ledger of the alert lines in `path`; nil when there is no regular file there.
    init?(existing path: String) {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG,
            let data = FileManager.default.contents(atPath: path)
        else { return nil }
        // A last line cut short (a run killed while writing it) is ended before more is added.
        endsInsideALine = !data.isEmpty && data.last != 0x0A
        for line in data.split(separator: 0x0A) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let id = object["id"] as? Int, let state = object["state"] as? String, let kind = object["kind"] as? String,
                let site = object["site"] as? String, let start = object["start"] as? String
            else { continue }
            let key = Key(kind: kind, site: site, country: object["country"] as? String, start: start)
            known[key, default: (id, [])].states.insert(state)
            nextID = max(nextID, id + 1)
        }
    }

    /// `event` as it is to be written, or nil when the file holds it already.
    mutating func admit(_ event: AlertEvent) -> AlertEvent? {
        var event = event
        let key = Key(
            kind: event.kind.rawValue, site: event.site, country: event.country?.description,
            start: UTCMinute.format(event.start))
        if let (id, states) = known[key] {
            guard !states.contains(event.state.rawValue) else {
                assigned[event.id] = id
                return nil
            }
            known[key]!.states.insert(event.state.rawValue)
            assigned[event.id] = id
            event.id = id
            return event
        }
        let id = assigned[event.id] ?? nextID
        if assigned[event.id] == nil {
            assigned[event.id] = id
            nextID += 1
        }
        known[key] = (id, [event.state.rawValue])
        event.id = id
        return event
    }
}

/// Writes the page of a run still going: replaced whole each time (a temporary file renamed
/// into place); a failure (a full disk) is said once, and the next minute may succeed.
final class LivePageWriter: @unchecked Sendable {
    private let path: String
    // Invariant: `failing` is only touched under `lock`.
    private let lock = NSLock()
    private var failing = false

    init(path: String) { self.path = path }

    func write(_ page: String) {
        lock.lock()
        defer { lock.unlock() }
        do throws(OutputError) {
            let sink = try OutputSink(path: path)
            try sink.write(page)
            try sink.close()
            failing = false
        } catch {
            if !failing { warn(error.description) }
            failing = true
        }
    }
}
