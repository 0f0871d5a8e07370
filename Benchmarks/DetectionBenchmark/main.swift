// The detection benchmark: runs the default detectors over a matrix of generated scenarios
// with injected events and prints, per cell and overall, the recall of labelled events, false
// alerts per simulated day and the detection delay (raised_at − onset), median and p90.
//
//   swift run -c release DetectionBenchmark [--seeds N] [--quick]
//
// Counts come from the generator's sampleCounts (the same traffic model as its log lines,
// without writing and parsing text), so hundreds of simulated days take seconds. Section (a)
// is Poisson traffic; section (b) the same events in over-dispersed traffic (a gamma-Poisson
// mixture of variance 0.05) with crawlers and scanners (one client each, 40 to 1,000 requests
// a minute), the detectors given each minute's distinct clients and busiest client.

import Foundation
import LogSurgeGeo
import LogSurgeParse
import LogSurgeCore
import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeGenerate
import LogSurgeReport

struct Scenario {
    var name: String
    var cell: String
    var rate: Double
    var seed: UInt64
    var days: Int
    var events: [InjectedEvent]
    /// Section (b): over-dispersed counts, and the clients of each minute.
    var dispersion: Double = 0
    /// Section (d): `--watch-country all` (every country checked by its share of the site).
    var everyCountry = false
}

extension InjectedEvent {
    var isCrawler: Bool {
        if case .crawler = kind { return true }
        return false
    }
}

struct Outcome {
    var detected: Int = 0
    var labelled: Int = 0
    var falseAlerts: Int = 0
    var days: Double = 0
    var delays: [Int] = []
    var crossKind: Int = 0
    /// Surges raised while a crawler (one client) was the only thing going on.
    var crawlerSurges: Int = 0

    mutating func add(_ other: Outcome) {
        crawlerSurges += other.crawlerSurges
        detected += other.detected
        labelled += other.labelled
        falseAlerts += other.falseAlerts
        days += other.days
        delays += other.delays
        crossKind += other.crossKind
    }
}

let arguments = CommandLine.arguments
let seeds = arguments.firstIndex(of: "--seeds").flatMap { Int(arguments[$0 + 1]) } ?? 3
let quick = arguments.contains("--quick")
/// `--only TEXT`: run the scenarios whose name and volume contain TEXT and print their alerts.
let only = arguments.firstIndex(of: "--only").map { arguments[$0 + 1] }
let start = UTCMinute.parse("2016-11-01T00:00Z")!  // a Tuesday
let us = CountryCode(isoCode: "US")!

/// US peak and trough: the US profile is at UTC-6, busiest at 16:00 local, quietest at 04:00.
func onset(day: Int, peak: Bool) -> Int32 { start + Int32(day * 1440 + (peak ? 22 * 60 : 10 * 60)) }

var scenarios: [Scenario] = []
let rates: [Double] = [40, 400]
for rate in rates {
    for seed in 1...UInt64(seeds) {
        scenarios.append(Scenario(name: "quiet week", cell: "quiet @\(Int(rate))", rate: rate, seed: seed, days: 7, events: []))
        for factor in (quick ? [2.0, 10] : [2.0, 5, 10, 20, 50]) {
            for hours in (quick ? [3] : [1, 3, 6]) {
                for peak in [true, false] {
                    let event = InjectedEvent(
                        kind: .surge(country: "US", factor: factor),
                        onset: onset(day: 3, peak: peak), duration: hours * 60, ramp: 10)
                    scenarios.append(
                        Scenario(
                            name: "surge x\(Int(factor)) \(hours)h \(peak ? "peak" : "trough")",
                            cell: "surge x\(Int(factor)) @\(Int(rate))", rate: rate, seed: seed, days: 4, events: [event]))
                }
            }
        }
        for share in [0.05, 0.10, 0.35] {
            for minutes in (quick ? [10] : [3, 5, 10, 25]) {
                // During the site's working day (the site is at UTC-5): 10:00, 14:00 or 18:00 local.
                let local = [10, 14, 18][Int(seed + UInt64(minutes)) % 3]
                let event = InjectedEvent(
                    kind: .errorSpike(share: share), onset: start + Int32(2 * 1440 + (local + 5) * 60 + 7), duration: minutes)
                scenarios.append(
                    Scenario(
                        name: "5xx \(Int(share * 100))% \(minutes)min",
                        cell: "5xx \(Int(share * 100))% \(minutes >= 5 ? ">=5" : "3")min @\(Int(rate))",
                        rate: rate, seed: seed, days: 3, events: [event]))
            }
        }
        // Outages (no line at all) and falls to a fifth, at the site's busy and quiet hours.
        for factor in [0.0, 0.2] {
            for minutes in (quick ? [30] : [10, 30, 120]) {
                for peak in [true, false] {
                    let event = InjectedEvent(kind: .drop(factor: factor), onset: onset(day: 2, peak: peak) + 13, duration: minutes)
                    scenarios.append(
                        Scenario(
                            name: "\(factor == 0 ? "outage" : "drop x0.2") \(minutes)min \(peak ? "peak" : "trough")",
                            cell: "\(factor == 0 ? "outage" : "drop x0.2") @\(Int(rate))", rate: rate, seed: seed, days: 3, events: [event])
                    )
                }
            }
        }
    }
}

/// The alert kind that detects `event`.
func kind(of event: InjectedEvent) -> AlertEvent.Kind {
    switch event.kind {
    case .surge: .surge
    case .errorSpike: .errorSpike
    case .drop: .drop
    case .crawler: .surge  // never to be raised: a surge over it is a false alert
    }
}

/// Section (b)'s crawlers and scanners: one US client each, at night and at the busy hour,
/// from 40 to 1,000 requests a minute, one a slow three-hour crawl; on days 1 and 2 (and 4 and 5
/// of a week), before or beside the labelled events.
func crawlers(days: Int) -> [InjectedEvent] {
    var events: [InjectedEvent] = []
    for day in [1, 4] where day + 1 < days {
        events += [
            InjectedEvent(kind: .crawler(country: "US", rate: 40), onset: start + Int32(day * 1440 + 3 * 60), duration: 30),
            InjectedEvent(kind: .crawler(country: "US", rate: 300), onset: start + Int32(day * 1440 + 20 * 60), duration: 20),
            InjectedEvent(kind: .crawler(country: "US", rate: 1000), onset: start + Int32((day + 1) * 1440 + 8 * 60), duration: 10),
            InjectedEvent(
                kind: .crawler(country: "US", rate: 100), onset: start + Int32((day + 1) * 1440 + 14 * 60), duration: 180, ramp: 30),
        ]
    }
    return events
}

// Section (b): the same kinds of events in over-dispersed traffic with crawlers.
for scenario in scenarios where scenario.seed <= UInt64(max(1, seeds - 1)) {
    guard
        scenario.name == "quiet week" || scenario.name.hasPrefix("surge x5 ") || scenario.name.hasPrefix("surge x10 ")
            || scenario.name.hasPrefix("5xx 10% 5") || scenario.name.hasPrefix("5xx 35% 5") || scenario.name.hasPrefix("outage")
    else { continue }
    var noisy = scenario
    noisy.cell = "(b) " + scenario.cell
    noisy.dispersion = 0.05
    noisy.events += crawlers(days: scenario.days)
    scenarios.append(noisy)
}

// Section (d): `--watch-country all` over the same over-dispersed traffic, with crawlers and
// scanners from five countries: quiet weeks, and crowds x5 and x10 from one country at a
// time (not the US), at that country's afternoon.
let countriesAtAfternoon: [(code: String, utcHour: Int)] = [("IN", 10), ("GB", 15), ("MX", 22), ("DE", 14), ("NZ", 3)]
func foreignCrawlers(days: Int) -> [InjectedEvent] {
    var events: [InjectedEvent] = []
    for day in [1, 4] where day + 1 < days {
        events += [
            InjectedEvent(kind: .crawler(country: "FR", rate: 300), onset: start + Int32(day * 1440 + 12 * 60), duration: 30),
            InjectedEvent(
                kind: .crawler(country: "BR", rate: 60), onset: start + Int32(day * 1440 + 18 * 60), duration: 180, ramp: 30),
            InjectedEvent(kind: .crawler(country: "DE", rate: 1000), onset: start + Int32((day + 1) * 1440 + 2 * 60), duration: 10),
            InjectedEvent(kind: .crawler(country: "CN", rate: 40), onset: start + Int32((day + 1) * 1440 + 6 * 60), duration: 60),
            InjectedEvent(kind: .crawler(country: "MX", rate: 100), onset: start + Int32((day + 1) * 1440 + 16 * 60), duration: 45),
        ]
    }
    return events
}
for rate in rates {
    for seed in 1...UInt64(max(1, seeds - 1)) {
        var quiet = Scenario(
            name: "all: quiet week", cell: "(d) all: quiet @\(Int(rate))", rate: rate, seed: seed, days: 7, events: [])
        quiet.dispersion = 0.05
        quiet.everyCountry = true
        quiet.events = foreignCrawlers(days: 7)
        scenarios.append(quiet)
        for factor in [5.0, 10] {
            for (code, hour) in countriesAtAfternoon {
                let event = InjectedEvent(
                    kind: .surge(country: code, factor: factor), onset: start + Int32(3 * 1440 + hour * 60), duration: 120, ramp: 10)
                var scenario = Scenario(
                    name: "all: surge \(code) x\(Int(factor))", cell: "(d) all: surge x\(Int(factor)) @\(Int(rate))", rate: rate,
                    seed: seed, days: 4, events: [event] + foreignCrawlers(days: 4))
                scenario.dispersion = 0.05
                scenario.everyCountry = true
                scenarios.append(scenario)
            }
        }
    }
}

func run(_ scenario: Scenario) -> (Outcome, [String]) {
    var configuration = GeneratorConfiguration()
    configuration.start = start
    configuration.minutes = scenario.days * 1440
    configuration.peakRate = scenario.rate
    configuration.seed = scenario.seed &* 7919 &+ UInt64(scenario.name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF)
    configuration.events = scenario.events
    configuration.dispersion = scenario.dispersion
    var traffic = TrafficGenerator(configuration: configuration)
    var detector = DetectorConfiguration()
    if scenario.everyCountry {
        detector.watchedCountries = []
        detector.watchesEveryCountry = true
    }
    let engine = DetectionEngine(configuration: detector)
    var alerts: [AlertEvent] = []
    let withClients = scenario.dispersion > 0
    for minute in start..<(start + Int32(scenario.days * 1440)) {
        let counts =
            withClients
            ? traffic.sampleCountsAndClients(minute: minute)
            : traffic.sampleCounts(minute: minute).map { ($0.country, $0.requests, $0.errors, 0, 0) }
        let usCounts = counts.first { $0.0 == "US" }
        var observation = SiteObservation(
            site: "-", requests: counts.reduce(0) { $0 + $1.1 }, errors: counts.reduce(0) { $0 + $1.2 }, watched: [us: usCounts?.1 ?? 0])
        if withClients, let usCounts, usCounts.3 > 0 {
            observation.watchedClients[us] = ClientFigures(distinct: usCounts.3, busiest: usCounts.4)
        }
        if scenario.everyCountry {
            for (code, requests, _, clients, busiest) in counts {
                guard let country = CountryCode(isoCode: code) else { continue }
                observation.watched[country] = requests
                if clients > 0 { observation.watchedClients[country] = ClientFigures(distinct: clients, busiest: busiest) }
            }
        }
        alerts += engine.step(minute: minute, observations: [observation])
    }
    alerts += engine.finish()
    if only != nil {
        print("## \(scenario.name) @\(Int(scenario.rate)) seed \(scenario.seed)")
        for event in scenario.events { print("truth: \(event.label)") }
        for alert in alerts { print(AlertWriter.line(alert), terminator: "") }
    }
    let labelled = scenario.events.filter { !$0.isCrawler }
    var outcome = Outcome(labelled: labelled.count, days: Double(scenario.days))
    var notes: [String] = []
    var matched = Set<Int>()
    for event in labelled {
        let kind = kind(of: event)
        // Detected: an episode of the right kind, raised while the event is under way or within
        // 10 minutes after it (late, and the delay shows it), whose span overlaps the event.
        let closedAt = Dictionary(alerts.filter { $0.state == .closed }.map { ($0.id, $0.end ?? .max) }, uniquingKeysWith: { a, _ in a })
        // A surge of the event's country (under `all`, another country's is a false alert).
        var country: CountryCode?
        if case .surge(let code, _) = event.kind { country = code.flatMap { CountryCode(isoCode: $0) } }
        if let hit = alerts.first(where: {
            $0.state == .open && $0.kind == kind && (country == nil || $0.country == country) && $0.raisedAt >= event.onset
                && $0.raisedAt < event.end + 10 && $0.start < event.end
                && (closedAt[$0.id] ?? .max) >= event.onset
        }) {
            outcome.detected += 1
            outcome.delays.append(Int(hit.raisedAt - event.onset))
            matched.insert(hit.id)
        } else {
            notes.append("missed: \(scenario.name) @\(Int(scenario.rate)) seed \(scenario.seed)")
        }
    }
    for alert in alerts where alert.state == .open && !matched.contains(alert.id) {
        // A second episode of the same event (it reopened) counts as false too, and so does an
        // alert of the other kind while an event is under way (a surge that raises an error
        // alert, or the reverse): `crossKind` counts those.
        outcome.falseAlerts += 1
        if alert.kind == .surge,
            scenario.events.contains(where: { $0.isCrawler && alert.raisedAt >= $0.onset && alert.raisedAt < $0.end + 10 })
        {
            outcome.crawlerSurges += 1
        }
        if labelled.contains(where: { event in
            kind(of: event) != alert.kind && alert.raisedAt >= event.onset && alert.raisedAt < event.end + 30
        }) {
            outcome.crossKind += 1
        }
        notes.append(
            "false: \(scenario.name) @\(Int(scenario.rate)) seed \(scenario.seed): \(alert.kind.rawValue) \(alert.country.map(\.description) ?? "") raised \(UTCMinute.format(alert.raisedAt))"
        )
    }
    return (outcome, notes)
}

func percentile(_ values: [Int], _ p: Double) -> String {
    guard !values.isEmpty else { return "-" }
    let sorted = values.sorted()
    return String(sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))])
}

var cells: [String: Outcome] = [:]
var cellOrder: [String] = []
var notes: [String] = []
let began = Date()
/// `--real-only`: only the real series.
let realOnly = arguments.contains("--real-only")
for scenario in scenarios
where !realOnly && only.map({ "\(scenario.name) @\(Int(scenario.rate)) seed \(scenario.seed)".contains($0) }) ?? true {
    let (outcome, scenarioNotes) = run(scenario)
    if cells[scenario.cell] == nil { cellOrder.append(scenario.cell) }
    cells[scenario.cell, default: Outcome()].add(outcome)
    notes += scenarioNotes
}

var total = Outcome()
print(
    "| cell | events | recall | false alerts / day | other kind during event | surges during a crawler | delay median min | delay p90 min |"
)
print("|---|---|---|---|---|---|---|---|")
for name in cellOrder {
    let cell = cells[name]!
    total.add(cell)
    let recall = cell.labelled > 0 ? String(format: "%.0f%%", 100 * Double(cell.detected) / Double(cell.labelled)) : "-"
    print(
        "| \(name) | \(cell.labelled) | \(recall) | \(String(format: "%.3f", Double(cell.falseAlerts) / cell.days)) | \(cell.crossKind) | \(cell.crawlerSurges) | \(percentile(cell.delays, 0.5)) | \(percentile(cell.delays, 0.9)) |"
    )
}
print(
    "| **overall** | \(total.labelled) | \(String(format: "%.1f%%", 100 * Double(total.detected) / Double(max(1, total.labelled)))) | \(String(format: "%.3f", Double(total.falseAlerts) / total.days)) (\(total.falseAlerts) in \(Int(total.days)) days) | \(total.crossKind) | \(total.crawlerSurges) | \(percentile(total.delays, 0.5)) | \(percentile(total.delays, 0.9)) |"
)
print("")
print(
    "\(scenarios.count) scenarios, \(Int(total.days)) simulated days, \(seeds) seeds, \(String(format: "%.1f", Date().timeIntervalSince(began))) s"
)
if !notes.isEmpty {
    print("")
    for note in notes.prefix(60) { print("- \(note)") }
    if notes.count > 60 { print("- … \(notes.count - 60) more") }
}

// MARK: - Real series

/// `--real DIR` (by default `../shared/detection-dev` when it is there): the labelled real
/// count series of DIR/windows.json, scored as the Numenta Anomaly Benchmark reads them. An
/// alert raised inside a labelled window detects it (its delay: raised_at − the window's
/// start); every alert raised after the first day and a half (NAB's warm-up) outside every
/// window is a false alert.
let realDirectory =
    arguments.firstIndex(of: "--real").map { arguments[$0 + 1] }
    ?? (FileManager.default.fileExists(atPath: "../shared/detection-dev/windows.json") ? "../shared/detection-dev" : nil)
if let realDirectory, only == nil {
    print("")
    print("Real series (\(realDirectory)):")
    print("")
    print("| series | step min | days scored | windows | detected | false alerts | false / day | delays min |")
    print("|---|---|---|---|---|---|---|---|")
    var missed: [String] = []
    var totals = (windows: 0, detected: 0, falseAlerts: 0, days: 0.0)
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: realDirectory + "/windows.json"))
        let table = try JSONSerialization.jsonObject(with: data) as? [String: [[String]]] ?? [:]
        for name in table.keys.sorted() {
            let windows = table[name]!.compactMap { pair -> ClosedRange<Int32>? in
                guard pair.count == 2, let from = CountSeriesReader.timestamp(pair[0]), let to = CountSeriesReader.timestamp(pair[1])
                else { return nil }
                return from...to
            }
            guard case .series(let series) = try CountSeriesReader.read(path: realDirectory + "/" + name).content,
                let first = series.points.first?.minute, let last = series.points.last?.minute
            else { continue }
            let alerts = Detection.run(series, configuration: DetectorConfiguration()).filter { $0.state == .open }
            let warmUp = first + 36 * 60
            var delays: [Int] = []
            var falseAlerts = 0
            for (index, window) in windows.enumerated() {
                if let hit = alerts.first(where: { window.contains($0.raisedAt) }) {
                    delays.append(Int(hit.raisedAt - window.lowerBound))
                } else {
                    missed.append(
                        "missed: \(name) window \(index + 1), \(UTCMinute.format(window.lowerBound)) to \(UTCMinute.format(window.upperBound))"
                    )
                }
            }
            for alert in alerts where alert.raisedAt >= warmUp && !windows.contains(where: { $0.contains(alert.raisedAt) }) {
                falseAlerts += 1
                missed.append("false: \(name): \(alert.kind.rawValue) raised \(UTCMinute.format(alert.raisedAt)), ×\(alert.ratio ?? 0)")
            }
            let days = Double(last - warmUp) / 1440
            totals.windows += windows.count
            totals.detected += delays.count
            totals.falseAlerts += falseAlerts
            totals.days += days
            print(
                "| \(name) | \(series.stepMinutes) | \(String(format: "%.1f", days)) | \(windows.count) | \(delays.count) | \(falseAlerts) | \(String(format: "%.3f", Double(falseAlerts) / days)) | \(delays.map(String.init).joined(separator: ", ")) |"
            )
        }
    } catch {
        print("cannot read \(realDirectory): \(error)")
    }
    print(
        "| **all** | | \(String(format: "%.1f", totals.days)) | \(totals.windows) | \(totals.detected) | \(totals.falseAlerts) | \(String(format: "%.3f", Double(totals.falseAlerts) / max(1, totals.days))) | |"
    )
    print("")
    for note in missed { print("- \(note)") }
}
