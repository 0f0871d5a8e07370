import ArgumentParser
import Foundation
import LogSurge
import LogSurgeParse
import LogSurgeCore
import LogSurgeInput
import LogSurgeGenerate

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write realistic synthetic access logs of an immigration site.",
        discussion: """
            Traffic follows each visiting country's daily rhythm in its own time zone and a weekly \
            pattern, with Poisson noise, a realistic mix of statuses, paths and clients, and a small \
            share of malformed lines. The same seed gives the same bytes.

            Events (--event, repeatable) are injected into the normal traffic:
              surge:CC:FACTOR:START:MINUTES[:RAMP]  CC's traffic x FACTOR (CC `*`: all)
              errors:SHARE:START:MINUTES[:RAMP]     SHARE of responses become 5xx
              drop:FACTOR:START:MINUTES[:RAMP]      all traffic x FACTOR (0: an outage)
              crawler:CC:RATE:START:MINUTES[:RAMP]  one client of CC sends RATE requests/min
            START is a UTC minute (2016-11-09T02:00Z); RAMP minutes rise before and fall \
            after the MINUTES at full strength. An event must touch the generated window (it may \
            run past either end) and, for CC, a country of the site's visitors. --labels writes one JSON line per event with \
            its kind and window, and a line of kind "traffic" naming the traffic's shape when \
            it is over-dispersed, drifts or comes through a CDN or a balancer.

            Examples:
              logsurge generate --days 3 --rotate SampleLogs
              logsurge generate --days 4 --rate 400 --labels truth.jsonl \\
                --event surge:US:10:2016-11-04T02:00Z:120:15 \\
                --event errors:0.35:2016-11-04T03:00Z:10 --output site.log
              logsurge generate --days 1 --rate 400 --gzip --output day.log.gz
              logsurge generate --minutes 60 | logsurge
            """
    )

    @Option(help: ArgumentHelp("First UTC minute, YYYY-MM-DDTHH:MMZ.", valueName: "MINUTE"))
    var start: String = "2016-11-01T00:00Z"

    @Option(help: "Days to generate.")
    var days: Int = 3

    @Option(help: "Minutes to generate (overrides --days).")
    var minutes: Int?

    @Option(help: "Requests per minute of the whole site if every country were at its daily peak.")
    var rate: Double = 60

    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Line format: \(GeneratedLayout.named.map(\.name).joined(separator: ", ")).", valueName: "FORMAT"))
    var format: String = "combined"

    @Option(
        help: ArgumentHelp(
            "Write lines in this nginx log_format body or Apache LogFormat string instead (its variables or directives filled in).",
            valueName: "STRING"))
    var logFormat: String?

    @Option(
        help: ArgumentHelp(
            "How visitors reach the server: none, cdn (Cloudflare edges connect, the visitor in X-Forwarded-For, its country in CF-IPCountry), balancer (a private load balancer, some requests through a CDN before it).",
            valueName: "SETUP"))
    var behind: String = "none"

    @Option(
        help: ArgumentHelp(
            "Over-dispersion: each minute's traffic times a gamma draw of mean 1 and this variance (0: Poisson counts).",
            valueName: "VARIANCE"))
    var dispersion: Double = 0

    @Option(
        help: ArgumentHelp(
            "Slow level drift: all traffic times exp(AMPLITUDE times a wander between -1 and 1 over 3 to 17 days) (0: none).",
            valueName: "AMPLITUDE"))
    var drift: Double = 0

    @Option(help: "Share of malformed lines.")
    var malformedRate: Double = 0.0005

    @Option(help: ArgumentHelp("Write to FILE (`-`: standard output).", valueName: "FILE"))
    var output: String = "-"

    @Flag(help: "Compress the output with gzip.")
    var gzip = false

    @Option(
        help: ArgumentHelp(
            "Write daily files into DIR as logrotate leaves them: access.log, access.log.1, access.log.2.gz ...", valueName: "DIR"))
    var rotate: String?

    @Option(help: ArgumentHelp("Inject an event (see above); repeatable.", valueName: "SPEC"))
    var event: [String] = []

    @Option(help: ArgumentHelp("Write the injected events' ground truth to FILE as JSON lines.", valueName: "FILE"))
    var labels: String?

    func validate() throws {
        guard UTCMinute.parse(start) != nil else {
            throw ValidationError("--start must look like 2016-11-08T00:00Z, a minute of the years 1970 to 3999")
        }
        guard GeneratedLayout.named.contains(where: { $0.name == format }) else {
            throw ValidationError(
                "unknown format '\(format)': use \(GeneratedLayout.named.map(\.name).joined(separator: ", ")), or --log-format")
        }
        if let logFormat {
            guard format == "combined" else { throw ValidationError("--format and --log-format both say how to write lines: give one") }
            do { _ = try LineFormat.compile(logFormat, clientHeaders: ["x_forwarded_for"]) } catch {
                throw ValidationError("--log-format: \(error)")
            }
        }
        guard ProxySetup(rawValue: behind) != nil else {
            throw ValidationError("--behind must be one of \(ProxySetup.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // (Days checked before they are multiplied: a huge --days overflowed.)
        let length = minutes ?? ((1...366 * 5).contains(days) ? days * 1440 : 0)
        guard length > 0, length <= 366 * 1440 * 5 else {
            throw ValidationError("generate between 1 minute and 5 years")
        }
        // The lines' times in the zone they are written in (up to 14 hours either side of UTC)
        // are of the years logsurge reads (to 3999), and not before 1970: the epoch formats
        // (Caddy's `ts`, `$msec`, `%{sec}t`) would write negative numbers, which no server does.
        let written = UTCMinute.minute(year: 1970, month: 1, day: 2, hour: 0, minute: 0)!...(UTCMinute.supported.upperBound - 1440)
        guard let starting = UTCMinute.parse(start), written.contains(starting), Int(starting) + length - 1 <= Int(written.upperBound)
        else {
            throw ValidationError("generate within the years 1970 to 3999 (from 1970-01-02 to 3999-12-30), which logsurge reads back")
        }
        guard rate > 0, rate <= 1_000_000 else { throw ValidationError("--rate must be in (0, 1000000]") }
        guard (0...1).contains(malformedRate) else { throw ValidationError("--malformed-rate must be in [0, 1]") }
        guard (0...100).contains(dispersion) else { throw ValidationError("--dispersion must be in [0, 100]") }
        guard (0...3).contains(drift) else { throw ValidationError("--drift must be in [0, 3]") }
        for spec in event where InjectedEvent(parsing: spec) == nil {
            throw ValidationError(
                "--event '\(spec)' must look like surge:US:10:2016-11-09T02:00Z:120[:15], errors:0.35:2016-11-09T03:00Z:10[:2], drop:0:2016-11-09T04:00Z:30[:2] or crawler:US:300:2016-11-09T05:00Z:20"
            )
        }
        // An event must happen to the traffic generated: to a country that visits, with at least
        // a minute inside the window (one may run past either end of it: a surge going on when
        // the log ends). A date mistyped would otherwise make a log without its event, silently.
        let visiting = Set(TrafficProfile.immigrationSite.countries.map(\.code))
        let first = UTCMinute.parse(start)!
        let window = "\(UTCMinute.format(first)) to \(UTCMinute.format(first + Int32(length) - 1))"
        for (spec, injected) in zip(event, event.compactMap(InjectedEvent.init(parsing:))) {
            let country: String?
            switch injected.kind {
            case .surge(let surged, _): country = surged
            case .crawler(let crawling, _): country = crawling
            default: country = nil
            }
            if let country, !visiting.contains(country) {
                throw ValidationError(
                    "--event '\(spec)': \(country) is not among the generated site's visitors' countries (\(visiting.sorted().joined(separator: ", ")))"
                )
            }
            // Its ramps included: up before the full minutes, down after them.
            let onset = Int(injected.onset) - Int(first)
            guard onset < length, onset + injected.duration + 2 * injected.ramp > 0 else {
                throw ValidationError("--event '\(spec)' has no minute inside the generated window, \(window)")
            }
        }
    }

    func run() throws {
        var configuration = GeneratorConfiguration()
        configuration.start = UTCMinute.parse(start)!
        configuration.minutes = minutes ?? days * 1440
        configuration.peakRate = rate
        configuration.seed = seed
        configuration.layout = logFormat.map { .formatString($0) } ?? GeneratedLayout.named.first { $0.name == format }!.layout
        configuration.proxy = ProxySetup(rawValue: behind)!
        configuration.malformedRate = malformedRate
        configuration.events = event.compactMap(InjectedEvent.init(parsing:))
        configuration.dispersion = dispersion
        configuration.drift = drift
        let layout: GeneratedLogWriter.Layout =
            rotate.map { .rotated(directory: $0, name: "access.log") }
            ?? .single(path: output, gzip: gzip)
        do {
            if let labels {
                let sink = try OutputSink(path: labels)
                for injected in configuration.events { try sink.write(injected.label + "\n") }
                // The traffic's own shape, when it is not plain Poisson counts of visitors
                // connecting directly: over-dispersion, drift, a CDN or a balancer in front.
                if dispersion > 0 || drift > 0 || configuration.proxy != .none {
                    let end = configuration.start + Int32(configuration.minutes - 1)
                    try sink.write(
                        "{\"kind\":\"traffic\",\"start\":\"\(UTCMinute.format(configuration.start))\",\"end\":\"\(UTCMinute.format(end))\","
                            + "\"rate\":\(rate),\"dispersion\":\(dispersion),\"drift\":\(drift),\"behind\":\"\(behind)\"}\n")
                }
                try sink.close()
            }
            try GeneratedLogWriter.write(configuration, to: layout)
        } catch let error as OutputError where !error.isBrokenPipe {
            throw UsageError(description: error.description)
        }
    }
}
