import Dispatch
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate

/// What a run asks of the detectors: their thresholds, when a minute is decided, whether the
/// charts are recorded, and what becomes of the episodes still going on at the end.
public struct DetectionPolicy: Sendable, Equatable {
    /// The detectors' thresholds and watched countries. By default, `DetectorConfiguration()`.
    public var detectors: DetectorConfiguration
    /// Minutes a line may arrive behind the newest one and still be seen by the detectors, when
    /// they decide minutes as a stream goes (a pipe, `--follow`); nil: every minute is decided
    /// at the end, over the finished buckets (so that files read one after another, e.g. from
    /// several servers, are detected as one stream). By default, nil.
    public var lateness: Int32?
    /// When set, the detectors record what they saw in at most this many columns, for the
    /// reports' charts. By default, nil.
    public var traceColumns: Int?
    /// Whether the episodes still going on at the last minute close there (the run ends; their
    /// closing events say `closedAtEndOfInput`) or stay open (a `--state` night, which the next
    /// run goes on with). By default, true.
    public var closesAtEnd: Bool
    /// Threads that may step the sites side by side (`DetectionEngine.threads`): the same
    /// events, sooner when there are many sites. By default, 1.
    public var threads: Int
    /// Whether a run of finished buckets checks quiet sites at longer steps (`SiteSteps`),
    /// which needs each bucket's clients as a tally (a step's are their union). By default, true.
    public var quietSitesAtLongerSteps: Bool

    public init(
        detectors: DetectorConfiguration = DetectorConfiguration(), lateness: Int32? = nil,
        traceColumns: Int? = nil, closesAtEnd: Bool = true, threads: Int = 1, quietSitesAtLongerSteps: Bool = true
    ) {
        self.detectors = detectors
        self.lateness = lateness
        self.traceColumns = traceColumns
        self.closesAtEnd = closesAtEnd
        self.threads = max(1, threads)
        self.quietSitesAtLongerSteps = quietSitesAtLongerSteps
    }
}

/// One run of the detectors: the one way a run's alerts are raised, whatever it reads (a file,
/// a pipe, a followed log, a `--state` night, a plain series). The pipeline counts; a
/// `DetectionRun` is given the counts, minute by minute as a stream is decided (`add`,
/// `advance`) or as finished buckets (`run`), and gives back the run's events, with the
/// charted trace of the same steps (`Outcome`).
///
/// Each event is handed to `onEvent` as it is raised or closed, on the thread that steps the
/// detectors (one at a time: a run is not shared between threads).
public final class DetectionRun {
    /// What a run of the detectors found.
    public struct Outcome {
        /// The alert events, in the order a reader of the stream would see them.
        public var events: [AlertEvent]
        /// What the detectors saw, for the charts (when the policy asked for it and a minute
        /// was stepped): the steps that raised `events`.
        public var trace: DetectionTrace?
        /// Requests of minutes already decided when their line came (a stream only): counted in
        /// the buckets, not seen by the detectors.
        public var lateLines: UInt64
        /// The episodes going on at the last minute, as their opening events, when the policy
        /// leaves them open (a `--state` night: also those opened by earlier runs).
        public var goingOn: [AlertEvent] = []
        /// `--watch-country all`: countries of a site with requests that were not checked
        /// (beyond `maximumCountryTracks`), counted once per site.
        public var countriesNotChecked = 0
        /// How many sites were checked at each step length, in minutes (`SiteSteps`), shortest
        /// first; empty when every site was checked a minute at a time.
        public var sitesByStep: [(stepMinutes: Int, sites: Int)] = []

        /// The episodes of `events`.
        public var episodes: [AlertEpisode] { AlertEpisode.of(events) }
    }

    public let policy: DetectionPolicy
    private var engine: DetectionEngine?
    private let onEvent: (AlertEvent) -> Void
    /// Events of minutes up to this one are left out (reported by the runs that read them).
    private let reportingAfter: Int32?
    private var snapshot: (through: Int32, take: (DetectionEngine) -> Void)?
    package private(set) var events: [AlertEvent] = []
    private var watched: [CountryCode]
    /// `--watch-country all`: every country's requests and clients are observed.
    private var watchesAll: Bool

    // A stream's minutes until they are decided.
    private var pending: [Int32: [String: SiteObservation]] = [:]
    /// The clients of their buckets, merged as chunks come.
    private var pendingClients: [Int32: [String: [CountryCode: ClientTally]]] = [:]
    private var newest: Int32?
    private var decidedThrough: Int32?
    /// Requests more than an hour ahead of `newest`, and the newest of their minutes: the
    /// watermark follows them only once there are enough of them, so that one line with a
    /// bogus future date cannot decide every pending minute.
    private var aheadRequests: UInt64 = 0
    private var aheadNewest: Int32 = .min
    static let aheadToTrust: UInt64 = 100
    /// The stream's first minute is borne out by a second request within an hour of it; until
    /// then nothing is decided, and requests more than an hour behind it are counted: as many
    /// as `aheadToTrust` of them, and their newest minute is the stream's (the first line was
    /// a clock set wrong, and had decided every later line late).
    private var firstBorneOut = false
    private var firstRequests: UInt64 = 0
    private var behindRequests: UInt64 = 0
    private var behindNewest: Int32 = .min
    /// The first minute so replaced: still decided at the end, as a minute ahead is.
    private var setAside: Int32 = .min
    private var lateLines: UInt64 = 0

    /// A run from nothing.
    public init(_ policy: DetectionPolicy, onEvent: @escaping (AlertEvent) -> Void = { _ in }) {
        self.policy = policy
        self.onEvent = onEvent
        reportingAfter = nil
        watched = Array(Set(policy.detectors.watchedCountries))
        watchesAll = policy.detectors.watchesEveryCountry
    }

    /// A run that goes on from earlier ones (`--state`): from `engine`, which stepped the
    /// minutes before those it is given (restored from a snapshot), or from nothing when nil.
    /// Events decided at a minute up to `reportingAfter` are left out (the runs that read those
    /// minutes reported them); `snapshot.take` is handed the engine once it has stepped every
    /// minute through `snapshot.through` and none after (at the end, if no later minute comes).
    public init(
        _ policy: DetectionPolicy, continuing engine: DetectionEngine?, reportingAfter: Int32?,
        snapshot: (through: Int32, take: (DetectionEngine) -> Void)?, onEvent: @escaping (AlertEvent) -> Void = { _ in }
    ) {
        self.policy = policy
        self.engine = engine
        engine?.threads = policy.threads
        self.onEvent = onEvent
        self.reportingAfter = reportingAfter
        self.snapshot = snapshot
        watched = Array(Set(policy.detectors.watchedCountries))
        watchesAll = policy.detectors.watchesEveryCountry
    }

    // MARK: - A stream, decided as it goes

    /// Counts requests of one merged bucket of a stream. A minute already decided only counts
    /// its requests as late.
    package func add(minute: Int32, site: String, country: CountryCode, counts: BucketTable.Counts, clients: ClientTally) {
        if let decidedThrough, minute <= decidedThrough {
            lateLines += UInt64(counts.requests)
            return
        }
        pending[minute, default: [:]][site, default: SiteObservation(site: site, requests: 0, errors: 0, watched: [:])]
            .add(country: country, counts: counts, watching: watched, watchingAll: watchesAll)
        // Every country's: the site's busiest client may be of any.
        if !clients.isEmpty {
            pendingClients[minute, default: [:]][site, default: [:]][country, default: ClientTally()].merge(clients)
        }
        if let current = newest, Int(minute) - Int(current) > 60 {
            aheadRequests += UInt64(counts.requests)
            aheadNewest = max(aheadNewest, minute)
            if aheadRequests >= Self.aheadToTrust {
                newest = aheadNewest
                aheadRequests = 0
                firstBorneOut = true
            }
        } else if let current = newest, !firstBorneOut, Int(current) - Int(minute) > 60 {
            behindRequests += UInt64(counts.requests)
            behindNewest = max(behindNewest, minute)
            if behindRequests >= Self.aheadToTrust {
                setAside = current
                newest = behindNewest
                firstBorneOut = true
            }
        } else {
            newest = max(newest ?? minute, minute)
            firstRequests += UInt64(counts.requests)
            if firstRequests >= 2 { firstBorneOut = true }
        }
    }

    /// Decides every minute the watermark (`policy.lateness` behind the newest) has passed.
    package func advance() {
        guard let lateness = policy.lateness, let newest, firstBorneOut else { return }
        decide(through: newest - lateness - 1)
    }

    /// Decides every minute through `limit` after a wall-clock quiet (`--idle-flush`): the
    /// pending minutes, and, when none reaches it, the minutes up to `limit` as minutes without
    /// a line (the log went quiet: a drop to nothing is one). Lines that come later for them are
    /// late. Nothing before the stream's first line, nor before its first minute is borne out.
    package func idle(through limit: Int32) {
        guard policy.lateness != nil, newest != nil, firstBorneOut, limit > decidedThrough ?? .min else { return }
        decide(through: limit)
        if let stepped = engine?.lastMinuteStepped, stepped < limit { step(minute: limit, observations: []) }
    }

    /// The newest minute of the stream so far (nil before its first line).
    package var newestMinute: Int32? { newest }

    private func decide(through limit: Int32) {
        let ready = pending.keys.filter { $0 <= limit }.sorted()
        var batch: [(minute: Int32, observations: [SiteObservation])] = []
        for minute in ready {
            var observations = pending.removeValue(forKey: minute)!.values.sorted { $0.site < $1.site }
            if let clients = pendingClients.removeValue(forKey: minute) {
                for index in observations.indices {
                    observations[index].addClients(clients[observations[index].site] ?? [:], watching: watched, watchingAll: watchesAll)
                }
            }
            batch.append((minute, observations))
        }
        step(batch: batch)
        decidedThrough = max(decidedThrough ?? limit, limit)
    }

    // MARK: - Finished buckets

    /// Steps every minute of `buckets` in time order, then ends the run (`finish`).
    ///
    /// A site with too few requests for a minute to hold evidence (`SiteSteps`) is checked in
    /// steps of 5, 15 or 60 minutes, by an engine of its own: its cost is its steps', not the
    /// span's minutes (a year of 50 quiet sites is 26 M site-minutes). Only a run that starts
    /// from nothing and ends with its input does so: a stream cannot know a site's rate ahead,
    /// and a `--state` night goes on with the minute steps of the nights before.
    public func run(_ buckets: MinuteBuckets) -> Outcome {
        if self.engine == nil {
            // The busiest sites (by requests, then name) when there are more than can be checked.
            let sites = buckets.sitesByRequests()
            let maximum = policy.detectors.maximumSites
            let busiest = sites.count <= maximum ? nil : Set(sites.prefix(maximum).map(\.site))
            if policy.quietSitesAtLongerSteps, snapshot == nil, reportingAfter == nil, policy.closesAtEnd, !watchesAll,
                let range = buckets.minuteRange,
                SiteSteps.anyMayBeQuiet(requests: sites.map { Int($0.counts.requests) }, span: range),
                let outcome = run(buckets, span: range, busiest: busiest)
            {
                return outcome
            }
            self.engine = DetectionEngine(configuration: policy.detectors, sites: busiest)
        }
        let engine = self.engine!
        engine.threads = policy.threads
        if engine.trace == nil { engine.trace = DetectionTrace(spanOf: buckets, maximumColumns: policy.traceColumns) }
        // Rows come by minute, then site name: a minute's observations are built in site order,
        // one site's rows after another, with no lookup by name.
        var observations: [SiteObservation] = []
        var current: Int32?
        var currentSite: UInt16?
        // Minutes are handed to the engine `minutesAtOnce` at a time (`step(batch:)`).
        var batch: [(minute: Int32, observations: [SiteObservation])] = []
        func flush() {
            guard let minute = current else { return }
            // Already in byte order of the names; the engine's order is String's (they differ
            // only for some non-ASCII names).
            observations.sort { $0.site < $1.site }
            batch.append((minute, observations))
            if batch.count >= Self.minutesAtOnce {
                step(batch: batch)
                batch.removeAll(keepingCapacity: true)
            }
            observations.removeAll(keepingCapacity: true)
            currentSite = nil
        }
        let rows = buckets.sortedRows()
        var iterator = rows.makeIterator()
        while let entry = iterator.nextEntry() {
            let (key, counts, clients) = (entry.key, entry.counts, entry.clients)
            if key.minute != current {
                flush()
                current = key.minute
            }
            if key.site != currentSite {
                observations.append(SiteObservation(site: rows.siteNames[Int(key.site)], requests: 0, errors: 0, watched: [:]))
                currentSite = key.site
            }
            observations[observations.count - 1].add(
                country: key.country, counts: counts, clients: clients.figures, watching: watched, watchingAll: watchesAll)
        }
        flush()
        step(batch: batch)
        return finish()
    }

    /// The sites of one step length, their engine, and their steps until handed to it.
    ///
    /// Its stored properties are `@exclusivity(unchecked)`: the builder alone touches them
    /// (a batch is handed to the stepper as a value), and the run-time checks of every access
    /// were a tenth of the builder's time.
    private final class StepClass {
        let minutes: Int
        let engine: DetectionEngine
        /// Steps built and not yet stepped (`minutesAtOnce` at most).
        @exclusivity(unchecked) var batch: [(minute: Int32, observations: [SiteObservation])] = []
        /// The step being built: its first minute, its sites' observations and their clients by
        /// country (merged over the step's minutes: a client of two minutes is one).
        @exclusivity(unchecked) var start: Int32?
        @exclusivity(unchecked) var current:
            [(site: Int, observation: SiteObservation, clients: [(key: CountryCode, value: ClientTally)])] = []
        /// Where each site (by index) is in `current`, or -1.
        @exclusivity(unchecked) var slots: [Int]
        /// Sites checked at this step.
        @exclusivity(unchecked) var sites = 0

        init(minutes: Int, engine: DetectionEngine, siteCount: Int) {
            self.minutes = minutes
            self.engine = engine
            slots = Array(repeating: -1, count: siteCount)
        }
    }

    /// `run(_:)` with each site checked at its step (`SiteSteps`), an engine for each step
    /// length: their events merged in the order of the minutes that raised or closed them (a
    /// step's last minute), then of step length, and numbered in that order. Each engine steps
    /// every step of the run's minutes with rows (empty ones too), as one engine stepped every
    /// such minute; a step the input ends inside (the last minute of `span` before its own
    /// last) is not decided. Nil when every site is checked a minute at a time.
    private func run(_ buckets: MinuteBuckets, span: ClosedRange<Int32>, busiest: Set<String>?) -> Outcome? {
        let rows = buckets.sortedRows()
        let siteCount = rows.siteNames.count
        // Each site's requests, and its hours with requests as the buckets counted them, or,
        // when those are unknown (`siteActiveHours`), from the rows (they come by minute: a
        // site's hours in order).
        let totals = buckets.requestsBySite()
        let requests = rows.siteNames.map { Int(totals[$0]?.requests ?? 0) }
        var hours = buckets.siteActiveHours() ?? []
        if hours.count != siteCount {
            var iterator = rows.makeIterator()
            hours = [Int](repeating: 0, count: siteCount)
            var lastHour = [Int32](repeating: .min, count: siteCount)
            while let entry = iterator.nextEntry() {
                let key = entry.key, site = Int(key.site)
                let hour = SiteSteps.stepStart(key.minute, length: 60)
                if hour != lastHour[site] {
                    hours[site] += 1
                    lastHour[site] = hour
                }
            }
        }
        let rankOfSite = (0..<siteCount).map { site in
            SiteSteps.lengths.firstIndex(of: SiteSteps.stepMinutes(requests: requests[site], activeHours: hours[site]))!
        }
        guard rankOfSite.indices.contains(where: { rankOfSite[$0] > 0 && requests[$0] > 0 }) else { return nil }
        let trace = DetectionTrace(spanOf: buckets, maximumColumns: policy.traceColumns)
        // With threads to spare, the engines step on a thread of their own while the next steps
        // are built from the rows (about as much work again: the rows, their clients merged
        // over a step). With two, the builder, when it is ahead, steps some of the sites of the
        // stepper's batch (`Stepper`); with more, the stepper's sites are dealt to the threads
        // left (`DetectionEngine.threads`).
        let stepper = policy.threads > 1 ? Stepper() : nil
        let classes = SiteSteps.lengths.map { minutes in
            let engine = DetectionEngine(configuration: policy.detectors, stepMinutes: minutes, sites: busiest)
            if let stepper, policy.threads == 2 {
                // Jobs of a few sites each, so that a builder that comes to wait in the middle
                // of a batch still finds some.
                engine.threads = Stepper.jobsPerStep
                engine.runJobs = stepper.runJobs
            } else {
                engine.threads = stepper == nil ? policy.threads : policy.threads - 1
            }
            engine.trace = trace
            return StepClass(minutes: minutes, engine: engine, siteCount: siteCount)
        }
        // Sites checked (the busiest when there are more than can be), for the report.
        for site in 0..<siteCount where requests[site] > 0 && busiest?.contains(rows.siteNames[site]) ?? true {
            classes[rankOfSite[site]].sites += 1
        }
        // Each site's place among the names in String's order.
        var nameRank = [Int](repeating: 0, count: siteCount)
        for (rank, site) in rows.siteNames.indices.sorted(by: { rows.siteNames[$0] < rows.siteNames[$1] }).enumerated() {
            nameRank[site] = rank
        }
        // Events with the minute that decided them, their class and their place in it.
        let timed = TimedEvents()
        func step(_ rank: Int) {
            let stepClass = classes[rank]
            guard !stepClass.batch.isEmpty else { return }
            let batch = stepClass.batch
            stepClass.batch = []
            stepClass.batch.reserveCapacity(Self.minutesAtOnce)
            let work = {
                for (minute, event) in stepClass.engine.stepTimed(batch: batch) {
                    timed.events.append((minute + Int32(stepClass.minutes - 1), rank, timed.events.count, event))
                }
            }
            if let stepper { stepper.run(work) } else { work() }
        }
        /// Hands the step being built of `rank` on to its batch.
        func close(_ rank: Int) {
            let stepClass = classes[rank]
            guard let start = stepClass.start else { return }
            // In the engine's order of names (String's), by rank: no string compared, and the
            // ranks sorted, not the observations (moved in the sort, each was copied).
            let order = stepClass.current.indices.map { nameRank[stepClass.current[$0].site] << 32 | $0 }.sorted()
            var observations: [SiteObservation] = []
            observations.reserveCapacity(stepClass.current.count)
            for entry in order {
                let index = entry & 0xFFFF_FFFF
                stepClass.current[index].observation.addClients(stepClass.current[index].clients, watching: watched)
                observations.append(stepClass.current[index].observation)
                stepClass.slots[stepClass.current[index].site] = -1
            }
            stepClass.batch.append((start, observations))
            stepClass.start = nil
            stepClass.current.removeAll(keepingCapacity: true)
            if stepClass.batch.count >= Self.minutesAtOnce { step(rank) }
        }
        // The classes with sites step from the run's first minute (an engine's days count from
        // its first step), each step of a minute with rows, empty or not.
        let stepped = classes.indices.filter { rank in (0..<siteCount).contains { rankOfSite[$0] == rank && requests[$0] > 0 } }
        var minute: Int32?
        var iterator = rows.makeIterator()
        while let entry = iterator.nextEntry() {
            let (key, counts, clients) = (entry.key, entry.counts, entry.clients)
            if key.minute != minute {
                minute = key.minute
                for rank in stepped {
                    let start = SiteSteps.stepStart(key.minute, length: classes[rank].minutes)
                    if classes[rank].start != start {
                        close(rank)
                        classes[rank].start = start
                    }
                }
            }
            let site = Int(key.site), name = rows.siteNames[site]
            let stepClass = classes[rankOfSite[site]]
            if stepClass.slots[site] < 0 {
                stepClass.slots[site] = stepClass.current.count
                stepClass.current.append((site, SiteObservation(site: name, requests: 0, errors: 0, watched: [:]), []))
            }
            let slot = stepClass.slots[site]
            // A minute's bucket is the step's (one a country): its figures are the step's clients.
            let single = stepClass.minutes == 1
            stepClass.current[slot].observation.add(
                country: key.country, counts: counts, clients: single ? clients.figures : nil, watching: watched)
            if !single, clients.figures.distinct > 0 {
                // A site's countries in a step are few: a scan, not a hash (this runs for every row).
                let tally = rows.tally(of: clients)
                if let index = stepClass.current[slot].clients.firstIndex(where: { $0.key == key.country }) {
                    stepClass.current[slot].clients[index].value.merge(tally)
                } else {
                    stepClass.current[slot].clients.append((key.country, tally))
                }
            }
        }
        for (rank, stepClass) in classes.enumerated() {
            // A step the input ends inside is not decided: it holds some of its minutes only
            // (half an hour of an hourly step looks like a drop). Its requests are in the buckets.
            if let start = stepClass.start, Int(start) + stepClass.minutes - 1 > Int(span.upperBound) {
                stepClass.start = nil
                for (site, _, _) in stepClass.current { stepClass.slots[site] = -1 }
                stepClass.current.removeAll()
            }
            close(rank)
            step(rank)
        }
        stepper?.wait()
        // Within a minute and class, in the order the engine gave them.
        timed.events.sort { ($0.minute, $0.rank, $0.order) < ($1.minute, $1.rank, $1.order) }
        var closing: [(rank: Int, event: AlertEvent)] = []
        for (rank, stepClass) in classes.enumerated() {
            for var event in stepClass.engine.finish() {
                event.closedAtEndOfInput = true
                closing.append((rank, event))
            }
        }
        // Numbered in the order they are reported, as one engine numbers them.
        var ids: [Int: Int] = [:]
        for (rank, event) in timed.events.map({ ($0.rank, $0.event) }) + closing {
            var event = event
            let key = event.id * SiteSteps.lengths.count + rank
            if let id = ids[key] {
                event.id = id
            } else {
                ids[key] = ids.count + 1
                event.id = ids.count
            }
            emit(event)
        }
        var outcome = Outcome(events: events, trace: trace.flatMap { $0.isEmpty ? nil : $0 }, lateLines: 0)
        outcome.countriesNotChecked = classes.reduce(0) { $0 + $1.engine.countriesNotChecked }
        outcome.sitesByStep = classes.filter { $0.sites > 0 }.map { ($0.minutes, $0.sites) }
        self.outcome = outcome
        return outcome
    }

    /// The events of `run(_:span:busiest:)`'s engines as they step, with the minute that decided
    /// each, its class and its place in the class's events.
    private final class TimedEvents: @unchecked Sendable {
        var events: [(minute: Int32, rank: Int, order: Int, event: AlertEvent)] = []
    }

    /// A thread that steps the engines' batches, one at a time in the order they are handed
    /// to it, the thread that builds them a batch ahead (each holds its steps' observations:
    /// two ahead held 11 MB more for 150 sites with charts, for no speed). What a batch
    /// touches (its engine, the trace, the events) is the stepper's until `wait()` returns, but
    /// for the sites' jobs of its steps (`runJobs`): the builder, while it waits to hand over a
    /// batch, runs those the stepper has not begun.
    private final class Stepper: @unchecked Sendable {
        private let queue = DispatchQueue(label: "logsurge.detect.step", qos: .userInitiated)
        private let help = HelpQueue()
        /// Batches handed over and not yet stepped (guarded by `help`).
        private var inFlight = 0
        /// Jobs the sites of a batch are dealt into (at most: 2 sites a job at least).
        static let jobsPerStep = 16

        func run(_ work: @escaping () -> Void) {
            help.wait(until: { inFlight == 0 })
            help.change { inFlight += 1 }
            let box = UncheckedWork(work)
            queue.async {
                box.work()
                self.help.change { self.inFlight -= 1 }
            }
        }

        /// Returns once every batch handed over has been stepped (helping meanwhile).
        func wait() { help.wait(until: { inFlight == 0 }) }

        /// The engines' `runJobs`: job 0 here, the others posted for the builder, and run here
        /// when it has not taken them; returns when all are done.
        func runJobs(_ jobs: Int, _ job: @escaping (Int) -> Void) {
            let left = JobsLeft(jobs)
            help.post(
                (1..<jobs).map { index in
                    {
                        job(index)
                        self.help.change { left.count -= 1 }
                    }
                })
            job(0)
            help.change { left.count -= 1 }
            help.wait(until: { left.count == 0 })
        }
    }

    /// Jobs of one `runJobs` not yet done (guarded by the stepper's `help`).
    private final class JobsLeft: @unchecked Sendable {
        var count: Int
        init(_ count: Int) { self.count = count }
    }

    private struct UncheckedWork: @unchecked Sendable {
        let work: () -> Void
        init(_ work: @escaping () -> Void) { self.work = work }
    }

    /// Minutes of finished buckets handed to the engine at once: the threads that step the
    /// sites meet once for these, not every minute. (720 held 11 MB more of observations for
    /// 150 sites, past 100 MB in all, and were no faster.)
    static let minutesAtOnce = 120

    /// Steps a plain count series (surges of its values: `country` null), then ends the run.
    public func run(_ series: CountSeries) -> Outcome {
        var configuration = policy.detectors
        configuration.watchedCountries = [.unknown]
        configuration.watchesEveryCountry = false
        watched = [.unknown]
        watchesAll = false
        let engine = DetectionEngine(
            configuration: configuration, stepMinutes: series.stepMinutes, hasSiteTotals: false,
            gapsAreMissingData: true)
        self.engine = engine
        for point in series.points {
            step(
                minute: point.minute,
                observations: [
                    SiteObservation(site: series.name, requests: point.value, errors: 0, watched: [.unknown: point.value])
                ])
        }
        return finish()
    }

    // MARK: - Stepping and ending

    private func step(minute: Int32, observations: [SiteObservation]) {
        let engine =
            self.engine
            ?? {
                // A stream's detectors, made with its first minute: its charts grow with it.
                let engine = DetectionEngine(configuration: policy.detectors)
                engine.threads = policy.threads
                engine.trace = policy.traceColumns.map { DetectionTrace(growingTo: $0) }
                self.engine = engine
                return engine
            }()
        if let point = snapshot, minute > point.through {
            point.take(engine)
            snapshot = nil
        }
        for event in engine.step(minute: minute, observations: observations) {
            if let after = reportingAfter, minute <= after {
                heldOpenings[event.id] = event.state == .open ? event : nil
                continue
            }
            // An episode the replay opened before the minutes reported (under another
            // configuration than the runs that read them, perhaps): its opening comes first.
            if let opening = heldOpenings.removeValue(forKey: event.id) { emit(opening) }
            emit(event)
        }
    }

    /// Steps `minutes` in turn, as `step(minute:observations:)` of each: together
    /// (`DetectionEngine.step(batch:)`) when no event needs to know its minute's place in the
    /// run (no snapshot to take between them, none of them left out of the report).
    private func step(batch minutes: [(minute: Int32, observations: [SiteObservation])]) {
        guard let engine, snapshot == nil, reportingAfter == nil, minutes.count > 1 else {
            for (minute, observations) in minutes { step(minute: minute, observations: observations) }
            return
        }
        for event in engine.step(batch: minutes) { emit(event) }
    }

    /// Openings of episodes decided at a minute up to `reportingAfter` that have not closed
    /// there: reported with their closing, or at the end when they go on (the caller leaves out
    /// those the earlier runs reported).
    private var heldOpenings: [Int: AlertEvent] = [:]

    /// Decides what a stream has left, closes the episodes still going on (unless the policy
    /// keeps them open) and gives the run's outcome.
    public func finish() -> Outcome {
        if let outcome { return outcome }
        if let newest { decide(through: max(newest, aheadNewest, setAside)) }
        if let engine {
            snapshot?.take(engine)
            snapshot = nil
            for id in heldOpenings.keys.sorted() { emit(heldOpenings[id]!) }
            heldOpenings = [:]
            if policy.closesAtEnd {
                for var event in engine.finish() {
                    event.closedAtEndOfInput = true
                    emit(event)
                }
            }
            if let trace = engine.trace, trace.isEmpty { engine.trace = nil }
            engine.trace?.finish()
        }
        var outcome = Outcome(events: events, trace: engine?.trace, lateLines: lateLines)
        if !policy.closesAtEnd { outcome.goingOn = engine?.openEpisodes() ?? [] }
        outcome.countriesNotChecked = engine?.countriesNotChecked ?? 0
        self.outcome = outcome
        return outcome
    }
    private var outcome: Outcome?

    /// The charts so far, finished in a copy (nil before the first step, or without charts):
    /// for a page of a stream still going.
    package func traceSoFar() -> DetectionTrace? {
        guard outcome == nil, let trace = engine?.trace, !trace.isEmpty else { return outcome?.trace }
        return trace.finishedCopy()
    }

    private func emit(_ event: AlertEvent) {
        events.append(event)
        onEvent(event)
    }
}
