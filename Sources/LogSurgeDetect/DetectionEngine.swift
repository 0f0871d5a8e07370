import Dispatch
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate

/// What one site did in one step: the input of the detectors.
public struct SiteObservation: Sendable {
    public var site: String
    public var requests: Int
    public var errors: Int
    /// Requests of each watched country (missing: 0).
    public var watched: [CountryCode: Int]
    /// Who each watched country's requests came from: its distinct clients and the busiest
    /// one's requests (missing: not known, e.g. a series without a `clients` column).
    public var watchedClients: [CountryCode: ClientFigures]
    /// The site's clients over every country whose buckets know them: distinct clients summed
    /// (a client is of one country) and the busiest one's requests; nil when no bucket knew them.
    /// (Buckets without clients, a health probe with no address, are left out: the busiest of
    /// the others is still a crawler's lower bound.)
    public var clients: ClientFigures?

    public init(
        site: String, requests: Int, errors: Int, watched: [CountryCode: Int], watchedClients: [CountryCode: ClientFigures] = [:],
        clients: ClientFigures? = nil
    ) {
        self.site = site
        self.requests = requests
        self.errors = errors
        self.watched = watched
        self.watchedClients = watchedClients
        self.clients = clients
    }

    /// Counts one bucket of this site: its requests, its 5xx, and its country's requests and
    /// clients when the country is watched (`watching`: a few countries, a scan of which is
    /// cheaper than a hash; this runs for every bucket of the run). A site's buckets are one
    /// per country: the clients of a country come from one bucket.
    package mutating func add<Count>(
        country: CountryCode, counts: StatusCounters<Count>, clients: ClientFigures? = nil, watching: [CountryCode],
        watchingAll: Bool = false
    ) {
        requests += Int(counts.requests)
        errors += Int(counts.status5xx)
        if watchingAll || watching.contains(country) {
            watched[country, default: 0] += Int(counts.requests)
            if let clients, clients.distinct > 0 { watchedClients[country] = clients }
        }
        addClients(clients)
    }

    /// Counts the clients of this site's buckets of one step, a merged tally a country: every
    /// country's into `clients`, and each watched country's (`watching`, or every known one
    /// with `watchingAll`) as its `watchedClients`.
    package mutating func addClients(
        _ tallies: some Sequence<(key: CountryCode, value: ClientTally)>, watching: [CountryCode], watchingAll: Bool = false
    ) {
        for (country, tally) in tallies {
            let figures = ClientFigures(tally)
            addClients(figures)
            if watchingAll ? country != .unknown : watching.contains(country) { watchedClients[country] = figures }
        }
    }

    /// Counts the clients of one bucket of this site (nil: not known) into `clients`.
    package mutating func addClients(_ figures: ClientFigures?) {
        guard let figures, figures.distinct > 0 else { return }
        clients = ClientFigures(
            distinct: (clients?.distinct ?? 0) + figures.distinct, busiest: max(clients?.busiest ?? 0, figures.busiest))
    }
}

/// The surge and error-spike detectors, fed one step at a time in time order.
///
/// Causal: what is decided at a step uses that step and earlier ones only, so `raisedAt` is
/// the step at which a reader of the stream had the evidence. A site seen for the first time
/// starts with no history; sites missing from a step had no requests in it.
public final class DetectionEngine {
    public let configuration: DetectorConfiguration
    /// Minutes per step (1 for per-minute buckets; 5, 30 … for coarser series).
    public let stepMinutes: Int
    /// Whether observations carry site totals to compare a watched country's share with.
    public let hasSiteTotals: Bool

    private let stepsPerDay: Int
    private let halfWindow: Int
    @exclusivity(unchecked) private var sites: [String: SiteState] = [:]
    /// The sites checked, in the order they were admitted.
    @exclusivity(unchecked) private var siteOrder: [SiteState] = []
    @exclusivity(unchecked) private var nextID = 1
    @exclusivity(unchecked) private var lastStep: Int?
    @exclusivity(unchecked) private var origin: Int32?

    /// Sites checked: those in `sites` when given, else the first `maximumSites` seen.
    private let admitted: Set<String>?
    /// Where each step's series and baselines are recorded for the reports' charts, if anywhere.
    public var trace: DetectionTrace?
    /// Threads that step the sites (at most; see `advance`). By default, 1.
    public var threads = 1
    /// How the sites' jobs of a step are run side by side when `threads` > 1: `run(jobs, job)`
    /// runs `job(0)` … `job(jobs - 1)` and returns when all are done. By default (nil), on
    /// Dispatch's threads (`concurrentPerform`).
    var runJobs: ((_ jobs: Int, _ job: @escaping (Int) -> Void) -> Void)?

    /// Sites seen but not checked (beyond `maximumSites`).
    public private(set) var sitesNotChecked: Set<String> = []

    /// Countries checked with a history of their own (`watchedCountries`); under
    /// `watchesEveryCountry` every other one is checked by its share of the site.
    private let named: Set<CountryCode>
    /// Countries checked by their share, over every site (at most `maximumCountryTracks`).
    public private(set) var countryTracks = 0
    /// Countries of a site with requests but not checked (beyond `maximumCountryTracks`),
    /// counted once per site.
    public var countriesNotChecked: Int { siteOrder.reduce(0) { $0 + $1.countriesNotChecked.count } }

    /// Whether a step missing from the input means "no data" rather than "no requests" (plain
    /// series): a hole of more than 60 steps then starts afresh instead of counting as zeros.
    public let gapsAreMissingData: Bool

    public init(
        configuration: DetectorConfiguration, stepMinutes: Int = 1, hasSiteTotals: Bool = true,
        sites: Set<String>? = nil, gapsAreMissingData: Bool = false
    ) {
        self.configuration = configuration
        self.gapsAreMissingData = gapsAreMissingData
        admitted = sites
        named = Set(configuration.watchedCountries)
        self.stepMinutes = max(1, stepMinutes)
        self.hasSiteTotals = hasSiteTotals
        stepsPerDay = 1440 % self.stepMinutes == 0 ? 1440 / self.stepMinutes : 0
        halfWindow = max(0, min(10 / self.stepMinutes, stepsPerDay / 4))
    }

    /// Events raised or closed by the step that starts at `minute` (steps must come in order;
    /// skipped steps count as steps without requests).
    public func step(minute: Int32, observations: [SiteObservation]) -> [AlertEvent] {
        stepTimed(minute: minute, observations: observations).map(\.event)
    }

    /// `step(minute:observations:)`'s events, each with the first minute of the step that
    /// raised or closed it (a skipped step's own).
    private func stepTimed(minute: Int32, observations: [SiteObservation]) -> [(minute: Int32, event: AlertEvent)] {
        if origin == nil { origin = minute }
        var index = (Int(minute) - Int(origin!)) / stepMinutes
        // A step at or before one already taken (only a caller's mistake) changes nothing.
        if let lastStep, index <= lastStep { return [] }
        var events: [(minute: Int32, event: AlertEvent)] = []
        let gap = lastStep.map { index - $0 } ?? 0
        if gap > (gapsAreMissingData ? 60 : Self.longestGap(stepsPerDay: stepsPerDay)) {
            // Longer than the baselines look back (a clock jump, a bogus year), or a hole in a series
            // that may not mean zero: what came before says nothing about what follows, so end
            // every episode and start afresh from this step.
            events += finish().map { (minute, $0) }
            sites = [:]
            siteOrder = []
            origin = minute
            index = 0
        } else if let lastStep {
            // Fill skipped steps with zeros for every known site (in a series whose holes are
            // missing data, with steps that are neither evidence nor baseline), then this step.
            for skipped in (lastStep + 1)..<index {
                if gapsAreMissingData {
                    skipMissing()
                } else {
                    events += advance(step: skipped).map { (self.minute(of: skipped), $0) }
                }
            }
        }
        observe(observations, step: index)
        events += advance(step: index).map { (minute, $0) }
        lastStep = index
        return events
    }

    /// Hands each observation to its site's state (a site's last observation counts), first
    /// admitting the sites not seen before, in name order, while there is room.
    private func observe(_ observations: [SiteObservation], step: Int) {
        var new: [String] = []
        for observation in observations {
            if let site = sites[observation.site] {
                site.observation = observation
            } else if !sitesNotChecked.contains(observation.site) {
                new.append(observation.site)
            }
        }
        guard !new.isEmpty else { return }
        for name in Set(new).sorted() {
            guard admitted?.contains(name) ?? (sites.count < configuration.maximumSites) else {
                sitesNotChecked.insert(name)
                continue
            }
            let site = SiteState(
                name: name, position: siteOrder.count, configuration: configuration, startStep: step, stepsPerDay: stepsPerDay,
                halfWindow: halfWindow)
            sites[name] = site
            siteOrder.append(site)
        }
        for observation in observations { sites[observation.site]?.observation = observation }
    }

    /// The events of `minutes`, each stepped as `step(minute:observations:)` would, in turn: the
    /// same events, ids and charts.
    ///
    /// Runs of minutes that admit no new site and start nothing afresh are stepped site by site
    /// (each site through every minute of the run, on `threads` threads when there are sites
    /// enough to share), then settled minute by minute in site order: the threads meet once a
    /// run, not every minute (a year of 50 quiet sites is half a million minutes), and a site's
    /// history stays in the cache while it is stepped (a year of 50 sites: 73 s -> 62 s on
    /// one thread, 56 s -> 35 s on two, each meeting every minute).
    public func step(batch minutes: [(minute: Int32, observations: [SiteObservation])]) -> [AlertEvent] {
        stepTimed(batch: minutes).map(\.event)
    }

    /// `step(batch:)`'s events, each with the minute of the step that raised or closed it (the
    /// first minute of the step): for merging them with another engine's in the order of the log.
    public func stepTimed(batch minutes: [(minute: Int32, observations: [SiteObservation])]) -> [(minute: Int32, event: AlertEvent)] {
        var events: [(minute: Int32, event: AlertEvent)] = []
        var next = 0
        while next < minutes.count {
            let run = steppedTogether(minutes[next...])
            if run.steps.isEmpty {
                events += stepTimed(minute: minutes[next].minute, observations: minutes[next].observations)
                next += 1
            } else {
                events += advance(together: run.steps, observations: run.observations).map { (self.minute(of: $0.step), $0.event) }
                next += run.minutes
            }
        }
        return events
    }

    /// Most steps stepped together at once (a minute's observations are held until then).
    static let mostStepsTogether = 1440

    /// The run of `minutes` from its start that `advance(together:observations:)` can step:
    /// its minutes and steps (skipped ones included), and each site's observations by step.
    /// None unless there are two sites at least, every minute of the run comes after the last
    /// one stepped within `longestGap` and names only sites already admitted (or refused), and
    /// no country is checked by its share (counted over every site, each step).
    private func steppedTogether(
        _ minutes: ArraySlice<(minute: Int32, observations: [SiteObservation])>
    ) -> (minutes: Int, steps: [Int], observations: [[(step: Int, observation: SiteObservation)]]) {
        let none: (Int, [Int], [[(step: Int, observation: SiteObservation)]]) = (0, [], [])
        guard siteOrder.count > 1, !configuration.watchesEveryCountry,
            !gapsAreMissingData, let origin, var last = lastStep
        else { return none }
        var steps: [Int] = []
        var observations = [[(step: Int, observation: SiteObservation)]](repeating: [], count: siteOrder.count)
        var taken = 0
        for (minute, minuteObservations) in minutes {
            let index = (Int(minute) - Int(origin)) / stepMinutes
            guard index > last, index - last <= Self.longestGap(stepsPerDay: stepsPerDay),
                steps.count + (index - last) <= Self.mostStepsTogether,
                minuteObservations.allSatisfy({ sites[$0.site] != nil || sitesNotChecked.contains($0.site) })
            else { break }
            steps += (last + 1)...index
            for observation in minuteObservations {
                guard let site = sites[observation.site] else { continue }
                // A site's last observation of a minute counts.
                if observations[site.position].last?.step == index { observations[site.position].removeLast() }
                observations[site.position].append((index, observation))
            }
            last = index
            taken += 1
        }
        // A run of one minute is no better stepped together.
        return taken > 1 ? (taken, steps, observations) : none
    }

    /// Skipped steps are filled in up to this many; a longer gap starts afresh.
    static func longestGap(stepsPerDay: Int) -> Int { max(8 * stepsPerDay, 128) }

    /// The episodes going on, in site order (each site's surges, those of the countries checked
    /// by their share in code order, its drop, then its 5xx spike).
    private var episodesGoingOn: [Episode] {
        siteOrder.flatMap { site in
            site.surges.compactMap(\.episode) + site.countryTracksInOrder.compactMap(\.episode)
                + [site.drop, site.errors.episode].compactMap { $0 }
        }
    }

    /// The episodes going on at the last step, as their opening events (none is closed).
    public func openEpisodes() -> [AlertEvent] {
        episodesGoingOn.map { event($0, state: .open, end: nil) }
    }

    /// Closes every open episode at the end of input.
    public func finish() -> [AlertEvent] {
        let events = episodesGoingOn.map { close($0, end: lastMinute(of: $0.lastActive)) }
        for site in siteOrder {
            for track in site.surges { track.episode = nil }
            for track in site.countries.values { track.episode = nil }
            site.openCountries = []
            site.drop = nil
            site.errors.episode = nil
        }
        return events
    }

    // MARK: - Steps

    /// The first minute a step covers (steps stay within 8 days of `origin`'s day, and the
    /// origin moves with every restart, so this fits in Int32).
    private func minute(of step: Int) -> Int32 { Int32(clamping: Int(origin!) + step * stepMinutes) }
    /// The last minute a step covers: a step's evidence is complete only then.
    private func lastMinute(of step: Int) -> Int32 { minute(of: step) + Int32(stepMinutes - 1) }

    /// Steps taken, skipped ones included.
    @exclusivity(unchecked) private(set) var stepsTaken = 0

    /// A step of a plain series with no data: stored for every site, left out of every
    /// baseline and every test (a missing point is not a count of 0: not a drop).
    private func skipMissing() {
        stepsTaken += 1
        for site in siteOrder {
            site.total.append(0, baseline: 0, raw: 0)
            site.total.excludeLast()
            site.dropEvidenceFrom = site.total.endStep
            site.clients.append(nil, requests: 0)
            for track in site.surges {
                track.history.append(0, baseline: 0, raw: 0)
                track.leaveOut(step: track.history.endStep - 1)
                track.crowd.append(nil, requests: 0)
            }
        }
    }

    /// One step of every site checked, with what `observe` handed them (nothing: no requests).
    ///
    /// Sites are independent but for what is counted over all of them (the countries checked by
    /// their share, episode ids, the charts' series): those are settled in site order before
    /// and after, and the sites' steps in between run on `threads` threads when there are
    /// enough sites to share. Events, ids and charts come out as one thread makes them.
    private func advance(step: Int) -> [AlertEvent] {
        let countries =
            configuration.watchesEveryCountry ? siteOrder.map { countryTracksDue($0, observation: $0.observation, step: step) } : nil
        return advance(together: [step], countriesStepped: countries).map(\.event)
    }

    /// `steps` (consecutive, the first after `lastStep`) of every site checked: each site
    /// stepped through them all by one of the threads, given its `observations` by step (nil:
    /// what `observe` handed it, for one step) and `countriesStepped` (`countryTracksDue`, for
    /// one step), then what they raised and recorded settled step by step in site order
    /// (`settle`), as stepping each step in turn settles it.
    private func advance(
        together steps: [Int], observations: [[(step: Int, observation: SiteObservation)]]? = nil,
        countriesStepped: [[(track: SurgeTrack, count: Int)]]? = nil
    ) -> [(step: Int, event: AlertEvent)] {
        let sites = siteOrder
        // (Jobs run by `runJobs` are taken by threads already awake: a few sites each will do.)
        let workers = max(1, min(threads, sites.count / (runJobs == nil ? Self.sitesPerThread : 2)))
        let first = steps[0]
        // Each site's steps that raised or recorded something: the step, its events and its
        // trace records.
        var raised = [[(step: Int, events: [AlertEvent], records: Range<Int>)]](repeating: [], count: sites.count)
        raised.withUnsafeMutableBufferPointer { buffer in
            let output = buffer
            let work = SharedWork { worker in
                // Each site is stepped by one thread, which alone writes its slot.
                for index in stride(from: worker, to: sites.count, by: workers) {
                    let site = sites[index]
                    var given = observations?[index][...] ?? []
                    for step in steps {
                        if given.first?.step == step { site.observation = given.popFirst()!.observation }
                        let before = site.traceRecords.count
                        let events = self.advance(site, step: step, countriesStepped: countriesStepped?[index] ?? [])
                        if !events.isEmpty || site.traceRecords.count > before {
                            output[index].append((step, events, before..<site.traceRecords.count))
                        }
                    }
                }
            }
            if workers > 1, let runJobs {
                runJobs(workers) { work.run($0) }
            } else if workers > 1 {
                DispatchQueue.concurrentPerform(iterations: workers) { work.run($0) }
            } else {
                work.run(0)
            }
        }
        // Settled by step, then site: a cursor a site into what it raised.
        var events: [(step: Int, event: AlertEvent)] = []
        var cursors = [Int](repeating: 0, count: sites.count)
        var bySteps = [[Int]](repeating: [], count: steps.count)
        for index in sites.indices {
            for entry in raised[index] { bySteps[entry.step - first].append(index) }
        }
        for (offset, siteIndices) in bySteps.enumerated() {
            for index in siteIndices {
                var entry = raised[index][cursors[index]]
                cursors[index] += 1
                settle(sites[index], events: &entry.events, records: entry.records)
                events += entry.events.map { (first + offset, $0) }
            }
        }
        for site in sites {
            site.traceRecords.removeAll(keepingCapacity: true)
            numberGoingOn(site)
        }
        stepsTaken += steps.count
        lastStep = steps.last
        return events
    }

    /// Threads step sites in parallel only with at least this many sites each: fewer are not
    /// worth waking a thread for, every step.
    static let sitesPerThread = 8

    /// One step of `site`, `countriesStepped` its countries due (`countryTracksDue`).
    private func advance(_ site: SiteState, step: Int, countriesStepped: [(track: SurgeTrack, count: Int)]) -> [AlertEvent] {
        var events: [AlertEvent] = []
        let observation = site.observation
        site.observation = nil
        let requests = Double(observation?.requests ?? 0)
        let seasonal = seasonalExpected(site.total, step: step)
        // Without a day of history the baseline is the last hour's normal steps, which an
        // episode that lasts runs out of: it keeps the baseline it was raised against.
        let held = seasonal?.fromDays == true ? nil : site.drop?.heldBaseline
        let totalExpected = held ?? seasonal?.value
        // The level: how the site's traffic ran against its time-of-day expectation over the
        // three hours before the last one (a Monday after a quieter Sunday, a site that
        // grows). Baselines follow it, so a rise everywhere is not read as a surge; the
        // last hour is left out so that a surge under way is not absorbed.
        // (Over 240 and 60 steps: 20 and 5 hours of a 5-minute series, 5 days and 30 hours of
        // a 30-minute one; none for steps of 4 hours or more, where 240 steps are most of a
        // year: a daily series' level is its daily baseline.)
        let recent =
            stepMinutes < 240 ? site.total.level(over: (step - 240)..<(step - 60)) : (count: 0, expected: 0)
        let level = recent.expected >= 100 ? min(2, max(0.5, recent.count / recent.expected)) : 1
        site.total.append(requests, baseline: held ?? totalExpected.map { $0 * level } ?? requests, raw: totalExpected ?? requests)
        // What the site's busiest client sent beyond the usual (a crawler, a scanner, of any
        // country): when it is a tenth of the step or more, the step is no baseline of the
        // site (learnt, the next days would wait for the crawler: a drop every day at its hour).
        site.clients.append(observation?.clients, requests: Int(requests))
        let crawled = min(requests, site.clients.busiestBeyondUsual)
        let crawledStep = crawled >= max(configuration.minimumExcess, 0.1 * (totalExpected ?? (requests - crawled)))
        var anySurgeOpen = false
        var anyNotACrowd = false
        // Each country checked is held to `significance` over the number checked at the site
        // (Bonferroni): watching more countries does not raise more false alerts. Checked
        // by share, those that sent requests today or yesterday (`RecentCountries`).
        let day = step * stepMinutes / 1440
        // (The countries due are known before this step's tests: those with requests, noted
        // as recent, and those whose episode went on at the last step: `countriesStepped`.)
        let checked = site.surges.count + (configuration.watchesEveryCountry ? site.recentCountries.count(on: day) : 0)
        let significance = configuration.significance / Double(max(1, checked))
        for track in site.surges {
            let count = Double(observation?.watched[track.country] ?? 0)
            track.crowd.append(observation?.watchedClients[track.country], requests: Int(count))
            events += surgeStep(
                track, site: site, step: step, count: count, level: level, totals: site.total,
                seasonal: seasonalExpected(track.history, step: step), significance: significance)
            anySurgeOpen = anySurgeOpen || track.episode != nil
            anyNotACrowd = anyNotACrowd || track.notACrowd
            // While the site is down, its countries' steps are no baseline either: learnt,
            // nine days of an outage made the return of its traffic a surge that never closed.
            // They are evidence still (`evidenceFrom` does not move).
            if site.drop != nil { track.history.excludeLast() }
        }
        if configuration.watchesEveryCountry {
            // A country's share at an hour of the day needs that hour of an earlier day: the
            // countries are checked from the site's second day.
            let ready = totalExpected != nil && stepsPerDay > 0 && site.total.length > stepsPerDay
            for (track, count) in countriesStepped {
                events += countryStep(
                    track, site: site, step: step, count: count, clients: observation?.watchedClients[track.country],
                    ready: ready, significance: significance)
                anySurgeOpen = anySurgeOpen || track.episode != nil
                anyNotACrowd = anyNotACrowd || track.notACrowd
            }
            site.openCountries = countriesStepped.compactMap { $0.track.episode != nil ? $0.track.country : nil }
        }
        // A surge's minutes, and those of a rise that was no crowd (a crawler, a scanner),
        // are no baseline of the site's traffic: the next days would wait for them (a drop).
        if anySurgeOpen || anyNotACrowd || crawledStep { site.total.excludeLast() }
        if !anySurgeOpen { site.clients.learn(count: Int(requests)) }
        // The clients learn from normal steps: a crawl of hours, learnt, thins the usual
        // clients per request until an ordinary minute's clients beside it look like a crowd.
        for track in site.surges where track.episode == nil && !track.notACrowd {
            track.crowd.learn(count: observation?.watched[track.country] ?? 0)
        }
        if configuration.watchesEveryCountry, !(anySurgeOpen || anyNotACrowd) {
            // The shares learn from normal steps only, the site's and its countries' alike,
            // and without what a crawler sent beyond the usual busiest client (on a site's
            // first day, before any test runs, one would otherwise become a country's share).
            let at = minute(of: step)
            var countriesCrawled = 0.0
            for (track, count) in countriesStepped {
                let beyond = min(Double(count), track.crowd.busiestBeyondUsual)
                countriesCrawled += beyond
                track.share.add(Double(count) - beyond, at: at)
            }
            site.hours.add(max(0, requests - countriesCrawled), at: at)
        }
        for (track, count) in countriesStepped where track.episode == nil && !track.notACrowd { track.crowd.learn(count: count) }
        if totalExpected != nil { events += dropStep(site, step: step) }
        learn(site.total, step: step, count: requests - crawled)
        events += errorStep(
            site.errors, site: site, step: step,
            requests: observation?.requests ?? 0, errors: observation?.errors ?? 0)
        return events
    }

    /// The expected count of the next step of `history` (`step`): its level times the weekly
    /// profile's factor for this hour of the week (`fromDays`), or without a day of history the
    /// mean of the last hour's normal steps. Nil during the warm-up.
    private func seasonalExpected(_ history: SeriesHistory, step: Int) -> (value: Double, fromDays: Bool)? {
        if let level = weeklyLevel(history, step: step) {
            return (level * history.noise.weeklyFactor(at: minute(of: step), stepMinutes: stepMinutes), true)
        }
        return history.recentExpected(steps: 60, minimumSteps: configuration.warmUpSteps).map { ($0, false) }
    }

    /// The level of `step` from earlier days: the median of their means at this time of day,
    /// each divided by its own hour of the week's factor (so that an ordinary day's level comes
    /// out whether the days were weekdays, a weekend or a holiday). Nil without a day of history.
    ///
    /// (Kept for the step: found before the step is stored and again when it is learnt, the
    /// same, as only earlier days are read; learning the week forgets it.)
    private func weeklyLevel(_ history: SeriesHistory, step: Int) -> Double? {
        if let memo = history.weeklyLevelMemo, memo.step == step { return memo.level }
        // (Days back are whole days: the hour of the week of `day` days back is 24 × `day` hours
        // earlier.)
        // (The noise read where it is: a copy of it was a retain and a release of its profile.)
        let hour = SeriesNoise.hourOfWeek(minute(of: step))
        let needed = SeriesNoise.stepsNeeded(stepMinutes: stepMinutes)
        let level = history.dailyExpected(at: step, stepsPerDay: stepsPerDay, halfWindow: halfWindow) { day in
            history.noise.weeklyFactor(hour: SeriesNoise.hourOfWeek(hour, daysBefore: day), needed: needed)
        }
        history.weeklyLevelMemo = (step, level)
        return level
    }

    /// After a step is decided: its series learns its weekly profile from it and its dispersion
    /// from every test window ending there that holds no episode.
    private func learn(_ history: SeriesHistory, step: Int, count: Double) {
        if let level = weeklyLevel(history, step: step) {
            history.noise.learnWeek(at: minute(of: step), count: count, daily: level, stepMinutes: stepMinutes)
            history.weeklyLevelMemo = nil
        }
        if stepsPerDay > 0, !history.isExcluded(step) {
            history.noise.learnExcess(count - history.baseline(step), day: step / stepsPerDay)
        }
        guard history.length > configuration.warmUpSteps else { return }
        let sums = history.windowSums()
        for index in SeriesNoise.windows.indices where sums.excluded[index] == 0 && sums.steps[index] == SeriesNoise.windows[index] {
            history.noise.learn(window: index, count: sums.count[index], baseline: sums.baseline[index], stepsPerDay: stepsPerDay)
        }
    }

    /// Minutes within which a rise on the two days before makes one a routine (`Recurrence`):
    /// nil for series of steps of an hour or more.
    private var routineTolerance: Int32? { stepMinutes < 60 ? Int32(max(30, 2 * stepMinutes)) : nil }

    // MARK: - Drops

    /// A site's traffic far below its baseline, down to nothing: over 3, 10 or 60 steps, at most
    /// `dropRatio` of the expected requests, `minimumExcess` fewer, and as unlikely as a surge
    /// must be under the noise the site has shown below its baseline.
    private func dropStep(_ site: SiteState, step: Int) -> [AlertEvent] {
        let config = configuration
        let count = site.total.count(step)
        if var episode = site.drop {
            site.total.excludeLast()
            let baseline = max(site.total.baseline(step), 0.5)
            episode.record(count, baseline: baseline)
            if count < Double(episode.peakRequests) || (count == Double(episode.peakRequests) && baseline > (episode.peakBaseline ?? 0)) {
                episode.peakStep = step
                episode.peakRequests = Int(count)
                episode.peakBaseline = baseline
            }
            // Still down while clearly below the baseline, beyond what its noise explains.
            if count <= config.dropRatio * baseline, count == 0 || baseline - count >= 3 * baseline.squareRoot() {
                episode.lastActive = step
            }
            let recent = site.total.recentSums(10)
            if recent.count >= (1 + config.dropRatio) / 2 * recent.baseline {
                episode.quietSteps += 1
            } else {
                episode.quietSteps = 0
            }
            site.drop = episode
            if episode.quietSteps >= config.closeSteps {
                site.drop = nil
                site.dropEvidenceFrom = step + 1
                return [close(episode, end: lastMinute(of: episode.lastActive))]
            }
            return []
        }
        let sums = site.total.windowSums()
        // Steps left out of the baselines for a rise (a surge, a crawler) only make a window
        // less of a drop: a site that goes down while its surge is open has its drop raised.
        // A drop's own steps, and missing points, are no evidence of the next one.
        for index in SeriesNoise.dropWindows
        where sums.steps[index] == SeriesNoise.windows[index] && step - SeriesNoise.windows[index] + 1 >= site.dropEvidenceFrom {
            let observed = sums.count[index], expected = sums.baseline[index]
            let window = SeriesNoise.windows[index]
            guard observed <= config.dropRatio * expected, expected - observed >= config.minimumExcess else { continue }
            // The same minutes of earlier days held more too (not only their smoothed baseline).
            let earlier = site.total.sameWindowEarlier(endingAt: step, window: window, stepsPerDay: stepsPerDay) ?? expected
            guard observed <= config.dropRatio * earlier,
                CountStatistics.negativeBinomialLowerTail(
                    Int(observed), mean: expected, dispersion: site.total.noise.dispersion(window: index, above: false))
                    < config.significance
            else { continue }
            // The episode starts at the first clearly low step of the window.
            var start = step
            for candidate in (step - window + 1)...step
            where site.total.count(candidate) <= config.dropRatio * site.total.baseline(candidate) {
                start = candidate
                break
            }
            var peakStep = start
            for candidate in start...step where site.total.count(candidate) < site.total.count(peakStep) { peakStep = candidate }
            var episode = Episode(
                id: site.provisionalID(), kind: .drop, site: site.name, country: nil, start: start, raisedAt: step, peakStep: peakStep,
                peakRequests: Int(site.total.count(peakStep)), peakBaseline: max(site.total.baseline(peakStep), 0.5), lastActive: step)
            episode.openWindow = window
            episode.heldBaseline = max(site.total.baseline(step), 0.5)
            episode.pictureStart = max(site.total.firstStep, start - 30, step - site.total.recentCapacity + 1)
            for past in episode.pictureStart...step { episode.record(site.total.count(past), baseline: site.total.baseline(past)) }
            site.drop = episode
            site.total.excludeLast()
            return [event(episode, state: .open, end: nil)]
        }
        return []
    }

    // MARK: - Surges

    /// The ratio a window needs: `surgeRatio` over one step, less over longer windows whose
    /// evidence is steadier (×2/3 over 3 and 10 steps), `sustainedSurgeRatio` over 60.
    private static func surgeRatio(window: Int, _ config: DetectorConfiguration) -> Double {
        switch window {
        case ..<3: config.surgeRatio
        case ..<60: max(config.sustainedSurgeRatio, config.surgeRatio * 2 / 3)
        default: config.sustainedSurgeRatio
        }
    }

    /// One step of a country's surge detector: `seasonal` its expected count (nil during the
    /// warm-up), `level` the site's level to apply to it, `significance` the tail each test needs.
    private func surgeStep(
        _ track: SurgeTrack, site: SiteState, step: Int, count: Double, level: Double, totals: SeriesHistory,
        seasonal: (value: Double, fromDays: Bool)?, significance: Double
    ) -> [AlertEvent] {
        let config = configuration
        track.notACrowd = false
        // An episode without a day of history keeps the baseline it was raised against (the last
        // hour's normal steps run out as it lasts): it does not feed its own baseline.
        let held = seasonal?.fromDays == true ? nil : track.episode?.heldBaseline
        let expected = held ?? seasonal?.value
        track.history.append(count, baseline: held ?? expected.map { $0 * level } ?? count, raw: expected ?? count)
        defer { learn(track.history, step: step, count: count) }
        if trace != nil, !track.bySiteShare {
            site.traceRecords.append(
                .surge(track, minute: minute(of: step), count: count, baseline: expected.map { $0 * level } ?? track.episode?.peakBaseline))
        }
        guard expected != nil else { return [] }

        if var episode = track.episode {
            track.leaveOut(step: step)
            if routineTolerance != nil { track.recurrence.cover(minute(of: episode.start)...lastMinute(of: step)) }
            episode.record(count, baseline: track.history.baseline(step))
            let baseline = max(track.history.baseline(step), 0.5)
            episode.crowd.add(count: count, baseline: baseline, clients: track.crowd.last)
            if count > Double(episode.peakRequests) {
                episode.peakStep = step
                episode.peakRequests = Int(count)
                episode.peakBaseline = baseline
                episode.crowd.peakClients = track.crowd.last?.distinct
            }
            let recent = track.history.recentSums(10)
            // Still active while clearly above the baseline, beyond what its noise explains, and
            // without what a crawler sent beyond the usual busiest client (one that goes on for
            // days would otherwise keep the crowd's episode open as long).
            let active = count - track.crowd.busiestExcess(steps: 1)
            if active >= max(config.closeRatio * baseline, baseline + 3 * baseline.squareRoot() + 1) { episode.lastActive = step }
            let recentActive = recent.count - track.crowd.busiestExcess(steps: recent.steps)
            if recentActive < config.closeRatio * max(recent.baseline, 0.5 * Double(recent.steps)) {
                episode.quietSteps += 1
            } else {
                episode.quietSteps = 0
            }
            track.episode = episode
            if episode.quietSteps >= config.closeSteps {
                track.episode = nil
                return [close(episode, end: lastMinute(of: episode.lastActive))]
            }
            return []
        }

        let sums = track.history.windowSums()
        // A step beyond anything the week has shown (`SeriesNoise`): for a series of steps of
        // 5 minutes or less (a week of them is thousands) with a week of history of its own.
        let record =
            stepsPerDay >= 288 && !track.bySiteShare && track.history.length >= 7 * stepsPerDay
            ? track.history.noise.excessRecord(day: step / stepsPerDay) : nil
        for (index, window) in SeriesNoise.windows.enumerated() where window <= track.history.length {
            // Evidence must come after the last episode (a drop's steps, left out of the baselines
            // only, are evidence: a crowd may come while the site is half down).
            guard step - window + 1 >= track.evidenceFrom else { continue }
            let observed = (count: sums.count[index], baseline: sums.baseline[index])
            let expectedSum = max(observed.baseline, 0.05 * Double(window))
            let ratio = Self.surgeRatio(window: window, config)
            // A country checked by its share is at least as bursty as its site: the site's
            // bursts (a minute's traffic that is all a little higher) are its bursts too.
            let dispersion = max(
                track.history.noise.dispersion(window: index, above: true),
                track.bySiteShare ? totals.noise.dispersion(window: index, above: true) : 0)
            guard observed.count >= ratio * expectedSum, observed.count - expectedSum >= config.minimumExcess else { continue }
            // A crowd, not one client: the rise holds without the excess of each step's busiest
            // client, and the other clients are themselves far more than usual.
            let crowd = track.crowd.judge(
                window: window, count: observed.count, expected: expectedSum, dispersion: dispersion,
                significance: significance, minimum: config.minimumCrowd)
            if crowd.count < ratio * expectedSum || crowd.count - expectedSum < config.minimumExcess {
                // A rise by ratio and size that was one client's, however likely its count under
                // the noise (a crawler on a series whose noise is wide): no baseline of it.
                track.notACrowd = true
                continue
            }
            // One step unlikely under the noise, or beyond the week's record.
            func unlikely(_ count: Double) -> Bool {
                let tail = CountStatistics.negativeBinomialUpperTail(Int(count), mean: expectedSum, dispersion: dispersion)
                if index == 0, let record, count - expectedSum > SeriesNoise.recordFactor * max(record, 0),
                    tail < significance * SeriesNoise.recordTailFactor
                {
                    return true
                }
                return tail < significance
            }
            guard unlikely(observed.count) else { continue }
            if hasSiteTotals {
                let total = totals.recentSums(window)
                guard total.count > 0, total.baseline > 0 else { continue }
                let share = expectedSum / max(total.baseline, expectedSum)
                let shareRise = (observed.count / total.count) / share
                // A country with most of the site's traffic cannot raise its share 1.5 times
                // (from 62 % at most to 100 %): what it needs shrinks with what is left to it.
                guard shareRise >= 1 + (config.shareRatio - 1) * (1 - share) else { continue }
                // Checked by its share, one of a hundred countries of a site that rises as a
                // whole has its share wander 1.5 times in a few minutes by chance (5 requests
                // a minute): given the site's traffic, its count must be unlikely too.
                if track.bySiteShare {
                    let given = max(share * total.count, 0.05 * Double(window))
                    guard CountStatistics.negativeBinomialUpperTail(Int(observed.count), mean: given, dispersion: dispersion) < significance
                    else { continue }
                }
            }
            if !crowd.isCrowd || crowd.count < observed.count {
                // A rise that was (in part) one client's: not this series' baseline either.
                track.notACrowd = true
            }
            guard crowd.isCrowd, crowd.count == observed.count || unlikely(crowd.count) else { continue }
            // The episode starts at the first clearly raised step of the window.
            var start = step
            for candidate in (step - window + 1)...step {
                let base = max(track.history.baseline(candidate), 0.5)
                if track.history.count(candidate) >= 1.5 * base + 1 { start = candidate; break }
            }
            if let tolerance = routineTolerance {
                defer { track.recurrence.cover(minute(of: start)...lastMinute(of: step)) }
                // A rise at a time of day it came on the two days before too (a daily job,
                // office hours opening): the series' routine, not raised. Left out of the
                // baselines as an episode is (learnt, it would read as the site's level), and
                // known again the next day by its time.
                if track.recurrence.isRoutine(at: minute(of: start), tolerance: tolerance) {
                    track.notACrowd = true
                    track.leaveOut(step: step)
                    return []
                }
            }
            var peakStep = start
            for candidate in start...step where track.history.count(candidate) > track.history.count(peakStep) {
                peakStep = candidate
            }
            var episode = Episode(
                id: site.provisionalID(), kind: .surge, site: site.name, country: track.country,
                start: start, raisedAt: step, peakStep: peakStep,
                peakRequests: Int(track.history.count(peakStep)),
                peakBaseline: max(track.history.baseline(peakStep), 0.5), lastActive: step)
            episode.openWindow = window
            episode.heldBaseline = max(track.history.baseline(step), 0.5)
            for past in start...step {
                episode.crowd.add(
                    count: track.history.count(past), baseline: max(track.history.baseline(past), 0.5),
                    clients: track.crowd.at(stepsBack: step - past))
            }
            episode.crowd.peakClients = track.crowd.at(stepsBack: step - peakStep)?.distinct
            episode.pictureStart = max(track.history.firstStep, start - 30)
            for past in episode.pictureStart...step { episode.record(track.history.count(past), baseline: track.history.baseline(past)) }
            track.episode = episode
            track.leaveOut(step: step)
            return [event(episode, state: .open, end: nil)]
        }
        if track.notACrowd { track.leaveOut(step: step) }
        return []
    }

    // MARK: - Every country

    /// The countries of `site` to step under `watchesEveryCountry`, in code order: those with
    /// requests in this step (a track made for one seen for the first time, while there is
    /// room) and those whose episode goes on. The others cost nothing. Those with requests are
    /// noted as the site's recent countries.
    private func countryTracksDue(_ site: SiteState, observation: SiteObservation?, step: Int) -> [(track: SurgeTrack, count: Int)] {
        var due: [CountryCode: Int] = [:]
        for country in site.openCountries { due[country] = 0 }
        for (country, count) in observation?.watched ?? [:] where count > 0 && country != .unknown && !named.contains(country) {
            due[country] = count
            site.recentCountries.note(country, day: step * stepMinutes / 1440)
        }
        return due.sorted { $0.key.rawValue < $1.key.rawValue }.compactMap { country, count in
            if let track = site.countries[country] { return (track, count) }
            guard countryTracks < configuration.maximumCountryTracks else {
                site.countriesNotChecked.insert(country)
                return nil
            }
            countryTracks += 1
            let track = SurgeTrack(country: country, history: SiteState.countryHistory(startStep: step), bySiteShare: true)
            site.countries[country] = track
            return (track, count)
        }
    }

    /// One step of a country checked by its share of the site: the steps since it was last
    /// stepped (only with requests or an episode going on) as steps without requests, then
    /// this one, each against its share at that hour of the day times the site's baseline.
    private func countryStep(
        _ track: SurgeTrack, site: SiteState, step: Int, count: Int, clients: ClientFigures?, ready: Bool, significance: Double
    ) -> [AlertEvent] {
        func expected(_ at: Int) -> Double? {
            guard at >= site.total.firstStep, let share = site.hours.share(of: track.share, at: minute(of: at)) else { return nil }
            return share * site.total.baseline(at)
        }
        let reach = track.history.recentCapacity / 2
        if step - track.history.endStep > reach {
            // Windows read 60 steps back at most: a longer gap starts the rings afresh.
            let noise = track.history.noise
            track.history = SiteState.countryHistory(startStep: step - reach)
            track.history.noise = noise
        }
        for missed in track.history.endStep..<step {
            let baseline = expected(missed) ?? 0
            track.history.append(0, baseline: baseline, raw: baseline)
            track.crowd.append(nil, requests: 0)
            learn(track.history, step: missed, count: 0)
        }
        track.crowd.append(clients, requests: count)
        return surgeStep(
            track, site: site, step: step, count: Double(count), level: 1, totals: site.total,
            seasonal: ready ? expected(step).map { ($0, true) } : nil, significance: significance)
    }

    // MARK: - Error spikes

    private static let errorWindows = [1, 2, 3, 5, 10]

    private func errorStep(_ track: ErrorTrack, site: SiteState, step: Int, requests: Int, errors: Int) -> [AlertEvent] {
        let config = configuration
        let baselineShare = track.baselineShare(floor: config.errorShareFloor)
        let ready = track.stepsSeen >= config.warmUpSteps && track.historyRequests >= 200
        if trace != nil {
            site.traceRecords.append(
                .errors(
                    minute: minute(of: step), requests: requests, errors: errors,
                    baselineShare: track.episode?.baselineErrorRate ?? (ready ? baselineShare : nil)))
        }
        track.recent.append((requests, errors))
        if track.recent.count > 16 { track.recent.removeFirst() }
        track.stepsSeen += 1

        if var episode = track.episode {
            let share = requests > 0 ? Double(errors) / Double(requests) : 0
            episode.record(share, baseline: episode.baselineErrorRate!)
            let limit = max(2 * episode.baselineErrorRate!, episode.baselineErrorRate! + 0.01)
            // Still active only while this step's errors are clearly above the baseline share.
            // The peak is one of these steps: the quiet ones after the last (one 500 of a
            // single request as the site goes down) are past the episode's end.
            if share >= limit, errors >= config.minimumErrors,
                CountStatistics.binomialUpperTail(errors, trials: requests, probability: episode.baselineErrorRate!) < 1e-3
            {
                episode.lastActive = step
                if share > (episode.peakErrorRate ?? 0) || (share == episode.peakErrorRate && requests > episode.peakRequests) {
                    episode.peakStep = step
                    episode.peakRequests = requests
                    episode.peakErrorRate = share
                }
            }
            let (n, e) = track.recentSums(5)
            if n == 0 || Double(e) / Double(n) < limit { episode.quietSteps += 1 } else { episode.quietSteps = 0 }
            track.episode = episode
            if episode.quietSteps >= 5 {
                track.episode = nil
                return [close(episode, end: lastMinute(of: episode.lastActive))]
            }
            return []
        }
        track.learn(requests: requests, errors: errors)
        guard ready else { return [] }

        for window in Self.errorWindows where window <= track.recent.count {
            let (n, e) = track.recentSums(window)
            guard n > 0, e >= config.minimumErrors else { continue }
            let share = Double(e) / Double(n)
            guard share >= config.minimumErrorShare, share >= config.errorShareRatio * baselineShare,
                CountStatistics.binomialUpperTail(e, trials: n, probability: baselineShare) < config.errorSignificance
            else { continue }
            let steps = Array(track.recent.suffix(window).enumerated())
            var start = step
            for (offset, sample) in steps
            where sample.requests > 0 && Double(sample.errors) / Double(sample.requests) >= config.errorShareRatio * baselineShare
                && sample.errors > 0
            {
                start = step - window + 1 + offset
                break
            }
            var peak = (step: step, share: Double(errors) / Double(max(requests, 1)), requests: requests)
            for (offset, sample) in steps where sample.requests > 0 {
                let sampleShare = Double(sample.errors) / Double(sample.requests)
                if sampleShare > peak.share { peak = (step - window + 1 + offset, sampleShare, sample.requests) }
            }
            track.unlearn(steps: window)  // the window, this step included, was the spike, not the baseline
            var episode = Episode(
                id: site.provisionalID(), kind: .errorSpike, site: site.name, country: nil, start: start, raisedAt: step,
                peakStep: peak.step, peakRequests: peak.requests, peakBaseline: nil, lastActive: step)
            episode.peakErrorRate = peak.share
            episode.baselineErrorRate = baselineShare
            episode.pictureStart = step - (track.recent.count - 1)
            for sample in track.recent {
                episode.record(sample.requests > 0 ? Double(sample.errors) / Double(sample.requests) : 0, baseline: baselineShare)
            }
            track.episode = episode
            return [event(episode, state: .open, end: nil)]
        }
        return []
    }

    /// After a site's step, in site order: its new episodes numbered as they were raised (each
    /// raises its opening event in the step that makes it, under a provisional id of the site's:
    /// `SiteState.provisionalID`), the charts' points of `records` (of its `traceRecords`)
    /// recorded.
    private func settle(_ site: SiteState, events: inout [AlertEvent], records: Range<Int>) {
        for index in events.indices where events[index].id < 0 {
            let provisional = events[index].id
            if let id = site.numbered[provisional] {
                events[index].id = id
            } else {
                site.numbered[provisional] = nextID
                events[index].id = nextID
                nextID += 1
            }
        }
        guard let trace else { return }
        for record in site.traceRecords[records] {
            switch record {
            case .surge(let track, let minute, let count, let baseline):
                if track.traceSlot < 0 { track.traceSlot = trace.surgeSlot(site: site.name, country: track.country) }
                trace.surge(slot: track.traceSlot, minute: minute, minutes: stepMinutes, count: count, baseline: baseline)
            case .errors(let minute, let requests, let errors, let baselineShare):
                if site.errors.traceSlot < 0 { site.errors.traceSlot = trace.errorSlot(site: site.name) }
                trace.errors(
                    slot: site.errors.traceSlot, minute: minute, minutes: stepMinutes, requests: requests, errors: errors,
                    baselineShare: baselineShare)
            }
        }
    }

    /// The episodes of `site` going on under a provisional id, given the id `settle` numbered
    /// their opening with.
    private func numberGoingOn(_ site: SiteState) {
        guard !site.numbered.isEmpty else { return }
        func number(_ episode: inout Episode?) {
            guard let id = episode?.id, id < 0 else { return }
            // Every episode raises its opening as it is made, so `settle` has numbered it.
            episode!.id = site.numbered[id] ?? id
        }
        for track in site.surges { number(&track.episode) }
        for track in site.countries.values { number(&track.episode) }
        number(&site.drop)
        number(&site.errors.episode)
        site.numbered.removeAll(keepingCapacity: true)
    }

    // MARK: - Events

    private func event(_ episode: Episode, state: AlertEvent.State, end: Int32?) -> AlertEvent {
        AlertEvent(
            id: episode.id, state: state, kind: episode.kind, site: episode.site,
            country: hasSiteTotals ? episode.country : nil,
            start: minute(of: episode.start), raisedAt: lastMinute(of: episode.raisedAt), end: end,
            peakMinute: minute(of: episode.peakStep), peakRequests: episode.peakRequests,
            baselineRequests: episode.peakBaseline.map { ($0 * 10).rounded() / 10 },
            ratio: episode.peakBaseline.map { ((Double(episode.peakRequests) / $0) * 10).rounded() / 10 },
            peakErrorRate: episode.peakErrorRate.map { ($0 * 1000).rounded() / 1000 },
            baselineErrorRate: episode.baselineErrorRate.map { ($0 * 10000).rounded() / 10000 },
            clients: episode.kind == .surge ? episode.crowd.peakClients : nil,
            topClientShare: episode.kind == .surge ? episode.crowd.topClientShare.map { ($0 * 1000).rounded() / 1000 } : nil,
            stepMinutes: stepMinutes)
    }

    private func close(_ episode: Episode, end: Int32) -> AlertEvent {
        var closed = event(episode, state: .closed, end: end)
        closed.picture = AlertEvent.Picture(
            firstMinute: minute(of: episode.pictureStart), stepMinutes: stepMinutes,
            values: episode.values, baselines: episode.baselines)
        return closed
    }
}

/// An open episode's running state.
struct Episode {
    /// Its id: until the step that raised it is settled, its site's provisional one (below 0).
    var id: Int
    var kind: AlertEvent.Kind
    package var site: String
    package var country: CountryCode?
    var start: Int
    var raisedAt: Int
    var peakStep: Int
    var peakRequests: Int
    var peakBaseline: Double?
    var lastActive: Int
    var quietSteps = 0
    /// The test window that opened it.
    var openWindow = 1
    /// Surges and drops: the expected count per step when it was raised, which stands for the
    /// baseline while it lasts when there is less than a day of history.
    var heldBaseline: Double?
    var peakErrorRate: Double?
    var baselineErrorRate: Double?
    /// Surges: who the excess came from.
    var crowd = EpisodeCrowd()
    /// First step of the picture, its values and baselines.
    var pictureStart = 0
    var values: [Double] = []
    var baselines: [Double] = []

    /// Its steps: where they are is checked when a snapshot is read.
    var steps: [Int] { [start, raisedAt, peakStep, lastActive, pictureStart] }

    mutating func record(_ value: Double, baseline: Double) {
        guard values.count < 1440 else { return }  // a day of picture at most, however long it lasts
        values.append(value)
        baselines.append(baseline)
    }
}

/// Work handed to `concurrentPerform`'s threads: `run(worker)` touches only what is worker
/// `worker`'s own (its sites and their slots of the output), so it is shared unchecked.
private final class SharedWork: @unchecked Sendable {
    let run: (Int) -> Void
    init(_ run: @escaping (Int) -> Void) { self.run = run }
}

/// Per-site detector state.
final class SiteState {
    /// Steps a series keeps: the expected count reads back 7 days and a half window (longer
    /// gaps start afresh).
    static func capacity(stepsPerDay: Int, halfWindow: Int) -> Int { max(7 * stepsPerDay + halfWindow + 1, 128) }

    let name: String
    @exclusivity(unchecked) var total: SeriesHistory
    @exclusivity(unchecked) var surges: [SurgeTrack]
    @exclusivity(unchecked) var errors = ErrorTrack()
    /// The drop episode going on, if any.
    @exclusivity(unchecked) var drop: Episode?
    /// The first step a drop's test window may hold: after the last drop episode and the last
    /// missing point (a window of a rise's steps left out of the baselines is evidence still).
    @exclusivity(unchecked) var dropEvidenceFrom: Int
    /// What the site did in the step being taken, until it is taken.
    @exclusivity(unchecked) var observation: SiteObservation?
    /// Its clients over every country: what its busiest client usually sends (a crawler of a
    /// country not watched is no baseline of the site's traffic either).
    @exclusivity(unchecked) var clients = CrowdEvidence()
    /// `--watch-country all`: its requests by hour of the day, the countries checked by their
    /// share of them, those of them with an episode going on, and those not checked (no room).
    @exclusivity(unchecked) var hours = HourSums()
    @exclusivity(unchecked) var countries: [CountryCode: SurgeTrack] = [:]
    @exclusivity(unchecked) var openCountries: [CountryCode] = []
    @exclusivity(unchecked) var countriesNotChecked: Set<CountryCode> = []
    @exclusivity(unchecked) var recentCountries = RecentCountries()
    /// What the steps being taken add to the charts, recorded after them in site order.
    @exclusivity(unchecked) var traceRecords: [TraceRecord] = []
    /// Its place in the engine's site order.
    let position: Int
    /// The last provisional id given to an episode raised here (`provisionalID`), and the ids
    /// `settle` has numbered those of the steps being taken with.
    @exclusivity(unchecked) private var lastProvisionalID = 0
    @exclusivity(unchecked) var numbered: [Int: Int] = [:]

    /// An id for an episode raised in the step being taken, until `settle` numbers it in the
    /// order of every site's: below 0, and another for each episode of the site.
    func provisionalID() -> Int {
        lastProvisionalID -= 1
        return lastProvisionalID
    }

    enum TraceRecord {
        case surge(SurgeTrack, minute: Int32, count: Double, baseline: Double?)
        case errors(minute: Int32, requests: Int, errors: Int, baselineShare: Double?)
    }

    var countryTracksInOrder: [SurgeTrack] { countries.values.sorted { $0.country.rawValue < $1.country.rawValue } }

    /// The history of a country checked by its share: the test windows and an episode's
    /// picture, no days (3 KB where a country's own history takes up to 100 KB).
    static func countryHistory(startStep: Int) -> SeriesHistory {
        SeriesHistory(capacity: 128, startStep: startStep, recentCapacity: 128)
    }

    init(name: String, position: Int, configuration: DetectorConfiguration, startStep: Int, stepsPerDay: Int, halfWindow: Int) {
        self.name = name
        self.position = position
        dropEvidenceFrom = startStep
        let capacity = Self.capacity(stepsPerDay: stepsPerDay, halfWindow: halfWindow)
        total = SeriesHistory(capacity: capacity, startStep: startStep)
        surges = configuration.watchedCountries.map {
            SurgeTrack(country: $0, history: SeriesHistory(capacity: capacity, startStep: startStep))
        }
    }
}

final class SurgeTrack {
    package let country: CountryCode
    @exclusivity(unchecked) var history: SeriesHistory
    @exclusivity(unchecked) var episode: Episode?
    /// Its clients, step by step, and what a normal step's clients are.
    @exclusivity(unchecked) var crowd = CrowdEvidence()
    /// Whether this step rose as a surge would but was no crowd (reset every step).
    @exclusivity(unchecked) var notACrowd = false
    /// The first step a test window may hold: after its last episode, rise that was no crowd
    /// and missing point (`leaveOut`).
    @exclusivity(unchecked) var evidenceFrom = 0
    /// When it rose lately (a daily routine is no surge).
    @exclusivity(unchecked) var recurrence = Recurrence()
    /// Its series in the engine's trace, once recorded.
    @exclusivity(unchecked) var traceSlot = -1
    /// Whether it is checked by its share of the site (`--watch-country all`; not charted),
    /// and the share's sums.
    let bySiteShare: Bool
    @exclusivity(unchecked) var share = HourSums()

    init(country: CountryCode, history: SeriesHistory, bySiteShare: Bool = false) {
        self.country = country
        self.history = history
        self.bySiteShare = bySiteShare
    }

    /// Leaves the last step (`step`) out of the baselines and of the next tests' evidence.
    func leaveOut(step: Int) {
        history.excludeLast()
        evidenceFrom = step + 1
    }
}

/// A site's 5xx share: the last day of normal steps as baseline, the last few steps as evidence.
final class ErrorTrack {
    @exclusivity(unchecked) var recent: [(requests: Int, errors: Int)] = []
    @exclusivity(unchecked) var episode: Episode?
    @exclusivity(unchecked) var stepsSeen = 0
    /// Its series in the engine's trace, once recorded.
    @exclusivity(unchecked) var traceSlot = -1
    /// The last day of steps, allocated as it fills.
    @exclusivity(unchecked) private var ring: [(requests: Int, errors: Int)] = []
    private static let ringSize = 1440
    @exclusivity(unchecked) private var position = 0
    @exclusivity(unchecked) private(set) var historyRequests = 0
    @exclusivity(unchecked) private var historyErrors = 0

    func baselineShare(floor: Double) -> Double {
        // A weak prior of 1% over 100 requests keeps an empty history from calling 1 error a spike.
        max(floor, (Double(historyErrors) + 1) / (Double(historyRequests) + 100))
    }

    func learn(requests: Int, errors: Int) {
        if ring.count < Self.ringSize {
            // Grown by doubling, never past the ring's size.
            if ring.count == ring.capacity { ring.reserveCapacity(min(Self.ringSize, max(64, 2 * ring.count))) }
            ring.append((0, 0))
        }
        historyRequests += requests - ring[position].requests
        historyErrors += errors - ring[position].errors
        ring[position] = (requests, errors)
        position = (position + 1) % Self.ringSize
    }

    /// Takes the last `steps` learnt steps back out (they turned out to be the spike's start).
    func unlearn(steps: Int) {
        for _ in 0..<min(max(0, steps), ring.count) {
            position = (position - 1 + Self.ringSize) % Self.ringSize
            historyRequests -= ring[position].requests
            historyErrors -= ring[position].errors
            ring[position] = (0, 0)
        }
    }

    func recentSums(_ steps: Int) -> (requests: Int, errors: Int) {
        recent.suffix(steps).reduce((0, 0)) { ($0.0 + $1.requests, $0.1 + $1.errors) }
    }
}

// MARK: - Snapshots

extension DetectionEngine {
    /// The layout of `snapshot()`: bump it with any change to what the detectors keep or how
    /// they read it, so that a snapshot of another build is refused rather than misread.
    static let snapshotFormat = 10

    /// Everything the detectors keep, as bytes: `restored(from:configuration:)` of them goes on
    /// exactly as this engine would (its trace is not kept).
    public func snapshot() -> [UInt8] {
        var writer = SnapshotWriter()
        writer.int(Self.snapshotFormat)
        writer.string(configuration.fingerprint)
        writer.int(stepMinutes)
        writer.bool(hasSiteTotals)
        writer.bool(gapsAreMissingData)
        writer.optional(admitted.map { $0.sorted() }) { writer, names in writer.array(names) { $0.string($1) } }
        writer.array(sitesNotChecked.sorted()) { $0.string($1) }
        writer.int(nextID)
        writer.optional(lastStep) { $0.int($1) }
        writer.optional(origin) { $0.int(Int($1)) }
        writer.int(stepsTaken)
        writer.array(siteOrder) { writer, site in
            writer.string(site.name)
            site.total.write(to: &writer)
            writer.array(site.surges) { $1.write(to: &$0) }
            site.hours.write(to: &writer)
            writer.array(site.countryTracksInOrder) { $1.write(to: &$0) }
            writer.array(site.countriesNotChecked.map(\.rawValue).sorted()) { $0.unsigned(UInt64($1)) }
            site.recentCountries.write(to: &writer)
            writer.optional(site.drop) { $1.write(to: &$0) }
            writer.int(site.dropEvidenceFrom)
            site.clients.write(to: &writer)
            site.errors.write(to: &writer)
        }
        return writer.bytes
    }

    /// The engine `snapshot()` saved, for `configuration`; nil when the bytes are of another
    /// build or configuration, or not a snapshot at all.
    public static func restored(from bytes: [UInt8], configuration: DetectorConfiguration) -> DetectionEngine? {
        var reader = SnapshotReader(bytes)
        do {
            guard try reader.int() == snapshotFormat, try reader.string() == configuration.fingerprint else { return nil }
            let stepMinutes = try reader.int()
            try reader.check(stepMinutes >= 1 && stepMinutes <= 1440)
            let hasSiteTotals = try reader.bool(), gapsAreMissingData = try reader.bool()
            let admitted = try reader.optional { try $0.array { try $0.string() } }
            let engine = DetectionEngine(
                configuration: configuration, stepMinutes: stepMinutes, hasSiteTotals: hasSiteTotals,
                sites: admitted.map(Set.init), gapsAreMissingData: gapsAreMissingData)
            engine.sitesNotChecked = Set(try reader.array { try $0.string() })
            engine.nextID = try reader.int()
            engine.lastStep = try reader.optional { try $0.int() }
            engine.origin = try reader.optional { reader in
                // A step's start at or before a minute a log can give (`UTCMinute.supported`).
                let minute = try reader.int()
                try reader.check(
                    minute >= Int(UTCMinute.supported.lowerBound) - stepMinutes && minute <= Int(UTCMinute.supported.upperBound))
                return Int32(minute)
            }
            try reader.check((engine.lastStep == nil) == (engine.origin == nil))
            engine.stepsTaken = try reader.int()
            // Whatever the bytes say, the steps stay where stepping could have put them (a
            // snapshot whose checksum was forged is refused, never trapped on): the minute of
            // every step up to the next fits in Int32.
            let lastStep = engine.lastStep ?? 0
            try reader.check(lastStep >= 0 && lastStep < Int(Int32.max) / stepMinutes)
            try reader.check(engine.origin.map { Int($0) + lastStep * stepMinutes <= Int(UTCMinute.supported.upperBound) } ?? true)
            try reader.check(engine.nextID >= 1 && engine.nextID < Int(Int32.max) && (0..<Int(Int32.max)).contains(engine.stepsTaken))
            let stepRange = -SiteState.capacity(stepsPerDay: engine.stepsPerDay, halfWindow: engine.halfWindow)...(lastStep + 1)
            let capacity = SiteState.capacity(stepsPerDay: engine.stepsPerDay, halfWindow: engine.halfWindow)
            let countries = configuration.watchedCountries
            for _ in 0..<(try reader.count()) {
                let name = try reader.string()
                try reader.check(engine.sites[name] == nil)
                let site = SiteState(
                    name: name, position: engine.siteOrder.count, configuration: configuration, startStep: 0,
                    stepsPerDay: engine.stepsPerDay, halfWindow: engine.halfWindow)
                site.total = try SeriesHistory(from: &reader, capacity: capacity)
                try reader.check(site.total.firstStep >= 0 && site.total.endStep == lastStep + 1)
                try reader.check(try reader.count() == countries.count)
                // A surge track's episode: a surge of its country at this site, its steps in range.
                func readEpisode(of track: SurgeTrack) throws {
                    track.episode = try reader.optional { reader in try Episode(from: &reader) }
                    track.crowd = try CrowdEvidence(from: &reader)
                    track.recurrence = try Recurrence(from: &reader)
                    track.evidenceFrom = try reader.int()
                    try reader.check(track.evidenceFrom >= 0 && track.evidenceFrom <= lastStep + 1)
                    try reader.check(
                        track.episode.map {
                            $0.steps.allSatisfy(stepRange.contains) && $0.kind == .surge && $0.site == name && $0.country == track.country
                                && $0.peakBaseline != nil
                        } ?? true)
                }
                for track in site.surges {
                    try reader.check(try reader.unsigned() == UInt64(track.country.rawValue))
                    track.history = try SeriesHistory(from: &reader, capacity: capacity)
                    try reader.check(track.history.firstStep >= 0 && track.history.endStep == lastStep + 1)
                    try readEpisode(of: track)
                }
                site.hours = try HourSums(from: &reader)
                var previous = -1
                for _ in 0..<(try reader.count()) {
                    let raw = try reader.unsigned()
                    // In code order, each once, none of them named, within the tracks' bound.
                    try reader.check(raw <= UInt64(UInt16.max) && Int(raw) > previous && raw != 0)
                    previous = Int(raw)
                    let country = CountryCode(rawValue: UInt16(raw))
                    try reader.check(!engine.named.contains(country) && configuration.watchesEveryCountry)
                    try reader.check(engine.countryTracks < configuration.maximumCountryTracks)
                    let template = SiteState.countryHistory(startStep: 0)
                    let track = SurgeTrack(
                        country: country,
                        history: try SeriesHistory(from: &reader, capacity: 128, recentCapacity: template.recentCapacity),
                        bySiteShare: true)
                    // Stepped only with requests or an episode: its history may end before the last step.
                    try reader.check(track.history.firstStep >= 0 && track.history.endStep <= lastStep + 1)
                    try readEpisode(of: track)
                    try reader.check(track.episode == nil || track.history.endStep == lastStep + 1)
                    track.share = try HourSums(from: &reader)
                    site.countries[country] = track
                    engine.countryTracks += 1
                }
                site.openCountries = site.countryTracksInOrder.filter { $0.episode != nil }.map(\.country)
                site.countriesNotChecked = Set(
                    try reader.array(atMost: Int(UInt16.max)) { reader in
                        let raw = try reader.unsigned()
                        try reader.check(raw <= UInt64(UInt16.max))
                        return CountryCode(rawValue: UInt16(raw))
                    })
                site.recentCountries = try RecentCountries(from: &reader)
                try reader.check(site.recentCountries.day.map { $0 <= (lastStep + 1) * stepMinutes / 1440 } ?? true)
                site.drop = try reader.optional { reader in try Episode(from: &reader) }
                try reader.check(
                    site.drop.map {
                        $0.steps.allSatisfy(stepRange.contains) && $0.kind == .drop && $0.site == name && $0.country == nil
                            && $0.peakBaseline != nil
                    } ?? true)
                site.dropEvidenceFrom = try reader.int()
                try reader.check(site.dropEvidenceFrom >= 0 && site.dropEvidenceFrom <= lastStep + 1)
                site.clients = try CrowdEvidence(from: &reader)
                site.errors = try ErrorTrack(from: &reader)
                try reader.check(
                    site.errors.episode.map {
                        $0.steps.allSatisfy(stepRange.contains) && $0.kind == .errorSpike && $0.site == name && $0.country == nil
                            && $0.baselineErrorRate != nil && $0.peakErrorRate != nil
                    } ?? true)
                try reader.check(site.errors.stepsSeen >= 0 && site.errors.stepsSeen <= lastStep + 1)
                engine.sites[name] = site
                engine.siteOrder.append(site)
            }
            try reader.check(reader.atEnd)
            return engine
        } catch {
            return nil
        }
    }

    /// The minute of the last step taken (nil before the first).
    public var lastMinuteStepped: Int32? { lastStep.map { minute(of: $0) } }

    /// Whether going on with `sites` checks what one run over everything would: every site
    /// it has seen and these fit within `maximumSites`. (Beyond, one run checks the busiest
    /// over all it reads, which only a replay of the history can choose.)
    public func checksEvery(_ sites: some Sequence<String>) -> Bool {
        guard admitted == nil, sitesNotChecked.isEmpty else { return false }
        var count = self.sites.count
        for site in sites where self.sites[site] == nil {
            count += 1
            if count > configuration.maximumSites { return false }
        }
        return true
    }
}

extension SurgeTrack {
    /// Its country, history, episode, clients and routine; its share's sums when it has them.
    func write(to writer: inout SnapshotWriter) {
        writer.unsigned(UInt64(country.rawValue))
        history.write(to: &writer)
        writer.optional(episode) { $1.write(to: &$0) }
        crowd.write(to: &writer)
        recurrence.write(to: &writer)
        writer.int(evidenceFrom)
        if bySiteShare { share.write(to: &writer) }
    }
}

extension Episode {
    func write(to writer: inout SnapshotWriter) {
        writer.int(id)
        writer.string(kind.rawValue)
        writer.string(site)
        writer.optional(country) { $0.unsigned(UInt64($1.rawValue)) }
        for value in [start, raisedAt, peakStep, peakRequests, lastActive, quietSteps, openWindow, pictureStart] { writer.int(value) }
        for value in [peakBaseline, peakErrorRate, baselineErrorRate, heldBaseline] { writer.optional(value) { $0.double($1) } }
        writer.array(values) { $0.double($1) }
        writer.array(baselines) { $0.double($1) }
        crowd.write(to: &writer)
    }

    init(from reader: inout SnapshotReader) throws {
        let id = try reader.int()
        // Numbered (a provisional id never outlives the step that raised it).
        try reader.check(id >= 1)
        guard let kind = AlertEvent.Kind(rawValue: try reader.string()) else { throw SnapshotReader.Damaged() }
        let site = try reader.string()
        let country = try reader.optional { reader in
            let raw = try reader.unsigned()
            try reader.check(raw <= UInt64(UInt16.max))
            return CountryCode(rawValue: UInt16(raw))
        }
        var steps: [Int] = []
        for _ in 0..<8 { steps.append(try reader.int()) }
        var optionals: [Double?] = []
        for _ in 0..<4 { optionals.append(try reader.optional { try $0.double() }) }
        self.init(
            id: id, kind: kind, site: site, country: country, start: steps[0], raisedAt: steps[1], peakStep: steps[2],
            peakRequests: steps[3], peakBaseline: optionals[0], lastActive: steps[4])
        quietSteps = steps[5]
        openWindow = steps[6]
        pictureStart = steps[7]
        peakErrorRate = optionals[1]
        baselineErrorRate = optionals[2]
        heldBaseline = optionals[3]
        values = try reader.array { try $0.double() }
        baselines = try reader.array { try $0.double() }
        crowd = try EpisodeCrowd(from: &reader)
        try reader.check(values.count == baselines.count && values.count <= 1440)
        try reader.check(
            id >= 1 && peakRequests >= 0 && peakRequests < 1 << 40 && quietSteps >= 0 && quietSteps < Int(Int32.max)
                && (1...60).contains(openWindow))
        // Numbers as counting made them: finite, not negative, shares within 0…1.
        try reader.check(
            (values + baselines + [peakBaseline ?? 0, heldBaseline ?? 0]).allSatisfy { $0.isFinite && $0 >= 0 && $0 < 0x1p40 })
        try reader.check([peakErrorRate, baselineErrorRate].allSatisfy { $0.map { $0.isFinite && $0 >= 0 && $0 <= 1 } ?? true })
    }
}

extension ErrorTrack {
    func write(to writer: inout SnapshotWriter) {
        writer.array(recent) {
            $0.int($1.requests); $0.int($1.errors)
        }
        writer.optional(episode) { $1.write(to: &$0) }
        writer.int(stepsSeen)
        writer.array(ring) {
            $0.int($1.requests); $0.int($1.errors)
        }
        writer.int(position)
        writer.int(historyRequests)
        writer.int(historyErrors)
    }

    convenience init(from reader: inout SnapshotReader) throws {
        self.init()
        recent = try reader.array(atMost: 16) { reader in (try reader.int(), try reader.int()) }
        episode = try reader.optional { reader in try Episode(from: &reader) }
        stepsSeen = try reader.int()
        ring = try reader.array(atMost: Self.ringSize) { reader in (try reader.int(), try reader.int()) }
        position = try reader.int()
        historyRequests = try reader.int()
        historyErrors = try reader.int()
        // Counts as a run could have made them (below 2^40 each), their sums as `learn` keeps them.
        let sane = 0...(1 << 40)
        try reader.check(recent.allSatisfy { sane.contains($0.requests) && sane.contains($0.errors) })
        try reader.check(ring.allSatisfy { sane.contains($0.requests) && sane.contains($0.errors) })
        try reader.check(historyRequests == ring.reduce(0) { $0 + $1.requests } && historyErrors == ring.reduce(0) { $0 + $1.errors })
        try reader.check(stepsSeen >= 0 && stepsSeen < Int(Int32.max))
        // `learn` writes at `position` once the ring is full, and appends until then.
        try reader.check(
            position >= 0 && position < Self.ringSize && (ring.count == Self.ringSize || position == ring.count % Self.ringSize))
    }
}
