import LogSurgeCore

/// One row of the per-minute buckets: a UTC minute, a site and a country with their counters.
public struct BucketRow: Sendable, Equatable {
    /// UTC minutes since 1970-01-01T00:00Z.
    public var minute: Int32
    public var site: String
    public var country: CountryCode
    public var counts: BucketCounts
    /// Its distinct clients and the busiest one's requests.
    public var clients: ClientFigures

    public init(minute: Int32, site: String, country: CountryCode, counts: BucketCounts, clients: ClientFigures = .init()) {
        self.minute = minute
        self.site = site
        self.country = country
        self.counts = counts
        self.clients = clients
    }
}

/// Requests per UTC minute × site × country for a whole run.
///
/// Chunk tallies are merged into it in chunk order; because every counter is a sum, the
/// result does not depend on how lines were split into chunks or spread over workers.
///
/// Memory is bounded: once `spillThreshold` buckets are held (or their clients take 128 bytes
/// a bucket of it), they are sorted and written as a run to unlinked temporary files and the
/// table starts afresh; rows are then merged from the
/// runs and the table, equal keys summed, in the same order and with the same sums as if
/// everything had stayed in memory. (If no temporary file can be written, buckets stay in memory.)
public struct MinuteBuckets: Sendable {
    /// The site that collects the quietest sites of a run with more than `maximumSites`.
    public static let overflowSite = "~other"
    /// Distinct sites kept apart (site indices are 16 bits; one is `overflowSite`).
    public static let maximumSites = Int(UInt16.max) - 1
    /// Buckets held in memory before they are spilled, by default: about 4 MB of table (two days
    /// of one busy site with visitors from 20 countries a minute). Spilling costs little: a week
    /// of 200 k buckets is written and merged back in a few tens of milliseconds. (Twice this,
    /// with clients at 512 bytes a bucket, a run reading rotated archives peaked at 150 MB.)
    public static let defaultSpillThreshold = 1 << 16

    public private(set) var siteNames: [String] = []
    /// Sites folded into `overflowSite` so far (a site folded twice counts twice). It grows with
    /// every fold, which renumbers the sites: a caller's cached indices are then stale.
    public private(set) var sitesFolded = 0
    /// The fold's limit (tests lower it).
    var siteLimit = MinuteBuckets.maximumSites
    private var siteIndex: [String: UInt16] = [:]
    private var store = BucketTable(initialCapacity: 64)
    /// The clients of each of the store's entries, in the store's order, and their bytes.
    private var clients: [ClientTally] = []
    private var clientBytes = 0
    /// Bytes of clients held before a spill: 128 a bucket of `spillThreshold` (8 MB by
    /// default: some 230 buckets of more than `ClientTally.exactLimit` clients, a busy site's
    /// four hours; a tally's bytes as `ClientTally.memoryBytes` counts them), so that dividing
    /// the threshold divides this too.
    private var clientBudget: Int { spillThreshold << 7 }
    /// Buckets held before a spill.
    public private(set) var spillThreshold: Int
    private var spillFile: BucketSpillFile?
    private var runs: [BucketRun] = []
    /// How many merges made each run: 0 for a spill of the table, n + 1 for `runFanIn` runs of n.
    private var runLevels: [Int] = []
    /// Runs of one level merged into one of the next as soon as there are this many, so there
    /// are at most 63 runs a level (about 80 for 100 M buckets), and reading every row back, a
    /// block of each run at a time (64 KB: 4 MB for a full level), stays within a few megabytes
    /// however long the input.
    /// (16 rewrote every record of a year of 50 quiet sites, 2 M buckets, twice: a third of
    /// the merge's time.)
    static let runFanIn = 64
    /// Totals of the spilled buckets, for the queries that need no order, by site index (high
    /// 16 bits) and country (low 16 bits): per site and per country they are sums of these.
    private var spilledSiteCountries: [UInt32: BucketCounts] = [:]
    private var spilledRange: ClosedRange<Int32>?
    /// The spilled buckets' hours with requests by site (`siteActiveHours`).
    private var spilledHours = SiteHours()
    private var spillFailed = false

    public init(spillThreshold: Int = MinuteBuckets.defaultSpillThreshold) {
        self.spillThreshold = max(1, spillThreshold)
    }

    /// Whether some buckets were written to disk.
    public var hasSpilled: Bool { !runs.isEmpty }

    /// The number of (minute, site, country) buckets.
    public var count: Int {
        guard hasSpilled else { return store.count }
        return sortedRows().reduce(0) { count, _ in count + 1 }
    }

    /// Adds `counts` and `clients` under (minute, site, country).
    public mutating func add(
        minute: Int32, site: String, country: CountryCode, counts: BucketCounts, clients: ClientTally = ClientTally()
    ) {
        merge(PackedKey(minute: minute, site: globalIndex(of: site), country: country), .init(counts), clients)
        spillIfFull()
    }

    /// Adds counters and clients to the store's entry for `key`.
    @inline(__always)
    private mutating func merge(_ key: PackedKey, _ counts: BucketTable.Counts, _ tally: ClientTally) {
        let index = store.merge(key, counts)
        if index == clients.count {
            clients.append(tally)
            clientBytes += tally.memoryBytes
        } else if !tally.isEmpty {
            clientBytes -= clients[index].memoryBytes
            clients[index].merge(tally)
            clientBytes += clients[index].memoryBytes
        }
    }

    /// Merges one chunk's tally, whose site indices refer to `localSites`, with the clients of
    /// each of its entries.
    package mutating func merge(
        _ entries: [(key: PackedKey, counts: BucketTable.Counts)], clients tallies: [ClientTally], localSites: [String]
    ) {
        var translation = [UInt16?](repeating: nil, count: localSites.count)
        var folds = sitesFolded
        for (offset, (key, counts)) in entries.enumerated() {
            let local = Int(key.site)
            let site: UInt16
            if let known = translation[local] {
                site = known
            } else {
                site = globalIndex(of: localSites[local])
                if folds != sitesFolded {
                    // A fold renumbered the sites: the indices found so far are stale.
                    translation = [UInt16?](repeating: nil, count: localSites.count)
                    folds = sitesFolded
                }
                translation[local] = site
            }
            merge(
                PackedKey(minute: key.minute, site: site, country: key.country), counts,
                offset < tallies.count ? tallies[offset] : ClientTally())
        }
        spillIfFull()
    }

    /// Adds every bucket of `other` (e.g. buckets read back from several servers' exports).
    public mutating func merge(_ other: MinuteBuckets) {
        other.forEachTalliedRow { row, tally in
            add(minute: row.minute, site: row.site, country: row.country, counts: row.counts, clients: tally)
        }
    }

    /// Each row, sorted, with its clients' tally.
    private func forEachTalliedRow(_ body: (BucketRow, ClientTally) -> Void) {
        let rows = sortedRows()
        var iterator = rows.makeIterator()
        while let entry = iterator.nextEntry() {
            let (key, counts, clients) = (entry.key, entry.counts, entry.clients)
            let row = BucketRow(
                minute: key.minute, site: rows.siteNames[Int(key.site)], country: key.country, counts: counts,
                clients: clients.figures)
            body(row, rows.tally(of: clients))
        }
    }

    /// Adds every bucket of `other`, one input's buckets, as if its chunks were merged here:
    /// its sites are taken in the order they first appeared in it, so the sites that fold into
    /// `overflowSite` are the same.
    package mutating func merge(inOrder other: MinuteBuckets) {
        // Into nothing yet (the first input of a run), merging is taking it as it is: the same
        // sites in the same order, and its spilled runs are not read back and written again.
        if siteNames.isEmpty, store.isEmpty, !hasSpilled, !spillFailed {
            let threshold = spillThreshold
            self = other
            spillThreshold = threshold
            spillIfFull()
            return
        }
        if other.hasSpilled || other.siteNames.count + siteNames.count > siteLimit {
            // Row by row: a site may fold on the way (the indices are looked up each time).
            other.forEachTalliedRow { row, tally in
                add(minute: row.minute, site: row.site, country: row.country, counts: row.counts, clients: tally)
            }
            return
        }
        let translation = other.siteNames.map { globalIndex(of: $0) }
        for (entry, raw) in other.store.keys.enumerated() {
            let key = PackedKey(rawValue: raw)
            merge(
                PackedKey(minute: key.minute, site: translation[Int(key.site)], country: key.country), other.store.counts[entry],
                other.clients[entry])
        }
        spillIfFull()
    }

    /// Writes the table out as a sorted run once it holds `spillThreshold` buckets.
    private mutating func spillIfFull() {
        guard store.count >= spillThreshold || clientBytes >= clientBudget, !spillFailed else { return }
        if spillFile == nil { spillFile = BucketSpillFile() }
        guard let file = spillFile else {
            spillFailed = true  // keep everything in memory rather than lose it
            return
        }
        let order = sortOrder(rank: siteRanks())
        var tallyWriteFailed = false
        // (The store's arrays read in place, no copy of them held: it is emptied after.)
        var next = order.makeIterator()
        let run = file.appendRun {
            guard let (_, entry) = next.next() else { return nil }
            var record = Self.record(key: store.keys[entry], counts: store.counts[entry], tally: clients[entry])
            if !clients[entry].isEmpty {
                guard let place = file.appendTally(clients[entry]) else {
                    tallyWriteFailed = true
                    return nil
                }
                (record.tally, record.tallyLength) = place
            }
            return record
        }
        guard let run, !tallyWriteFailed else {
            spillFailed = true
            return
        }
        runs.append(run)
        runLevels.append(0)
        // The spill runs while the merger holds a chunk's results: one table update a bucket.
        var low = spilledRange?.lowerBound ?? .max, high = spilledRange?.upperBound ?? .min
        for (raw, entry) in zip(store.keys, store.counts) {
            let key = PackedKey(rawValue: raw)
            spilledSiteCountries[UInt32(key.site) << 16 | UInt32(key.country.rawValue), default: BucketCounts()].merge(entry)
            low = min(low, key.minute)
            high = max(high, key.minute)
        }
        if low <= high { spilledRange = low...high }
        do {
            let keys = store.keys  // (released before the store is emptied in place)
            spilledHours.count(run: order.lazy.map { keys[$0.entry] }, siteCount: siteNames.count)
        }
        // Emptied with its storage kept: it fills up again to the same size (made anew, it grew
        // through every size again, its pages faulted in anew, a fifth of a many-sites merge).
        store.removeAll()
        clients.removeAll(keepingCapacity: true)
        clientBytes = 0
        mergeFullLevels(file: file)
    }

    /// Merges the last `runFanIn` runs into one while they are of one level (the levels of the
    /// runs never rise from the first run to the last). Their rows and totals are the same
    /// after as before; the file keeps the old runs' bytes (it is append-only).
    private mutating func mergeFullLevels(file: BucketSpillFile) {
        while runs.count >= Self.runFanIn, let level = runLevels.last,
            runLevels.suffix(Self.runFanIn).allSatisfy({ $0 == level })
        {
            // Sorted by site rank: a site added since a run was written sorts among the others,
            // whose order it does not change, so every run is still sorted.
            let sequence = rowSequence(rank: siteRanks(), memory: [], tallies: [], runs: Array(runs.suffix(Self.runFanIn)))
            var rows = sequence.makeIterator()
            var tallyWriteFailed = false
            let merged = file.appendRun {
                guard let entry = rows.nextEntry() else { return nil }
                let (key, counts, clients) = (entry.key, entry.counts, entry.clients)
                var record = BucketSpillFile.Record(
                    key: key.rawValue, counts: BucketTable.Counts(counts), distinct: UInt32(clamping: clients.figures.distinct),
                    busiest: UInt32(clamping: clients.figures.busiest))
                // A row of one run keeps its tally's bytes where they are; a merged one is written anew.
                if let place = clients.spilledTally {
                    (record.tally, record.tallyLength) = place
                } else {
                    let tally = sequence.tally(of: clients)
                    if !tally.isEmpty {
                        guard let place = file.appendTally(tally) else {
                            tallyWriteFailed = true
                            return nil
                        }
                        (record.tally, record.tallyLength) = place
                    }
                }
                return record
            }
            // A write that failed leaves the runs as they were: more of them, all still read.
            guard let merged, !tallyWriteFailed else { return }
            runs.removeLast(Self.runFanIn)
            runLevels.removeLast(Self.runFanIn)
            runs.append(merged)
            runLevels.append(level + 1)
        }
    }

    /// Sorted runs on disk now (for tests of their bound).
    var spilledRunCount: Int { runs.count }

    /// The name a site is kept under: itself, or `overflowSite` once the run has too many sites.
    package func mergedName(of name: String) -> String {
        siteIndex[name].map { siteNames[Int($0)] } ?? Self.overflowSite
    }

    private mutating func globalIndex(of name: String) -> UInt16 {
        if let index = siteIndex[name] { return index }
        if siteNames.count >= siteLimit, name != Self.overflowSite {
            foldQuietest()
            if let index = siteIndex[name] { return index }
        }
        let index = UInt16(siteNames.count)
        siteNames.append(name)
        siteIndex[name] = index
        return index
    }

    /// Makes room for new sites when the run has `siteLimit`: the quietest half of the sites
    /// so far (fewest requests, then last by name) are counted under `overflowSite` from now on,
    /// their buckets too; the busiest stay apart whatever came first. A site folded comes back
    /// under its name if it is seen again while there is room (its earlier requests stay under
    /// `overflowSite`). Rewrites every bucket, once per half of the limit of new sites at most.
    private mutating func foldQuietest() {
        let ranked = sitesByRequests().map(\.site).filter { $0 != Self.overflowSite }
        let kept = Set(ranked.prefix(ranked.count / 2))
        var folded = MinuteBuckets(spillThreshold: spillThreshold)
        folded.siteLimit = siteLimit
        folded.sitesFolded = sitesFolded + ranked.count - kept.count
        forEachTalliedRow { row, tally in
            folded.add(
                minute: row.minute, site: kept.contains(row.site) ? row.site : Self.overflowSite,
                country: row.country, counts: row.counts, clients: tally)
        }
        self = folded
    }

    /// All buckets sorted by minute, site name, then country (`--` first).
    public func rows() -> [BucketRow] { Array(sortedRows()) }

    /// The same rows made one at a time: the table's sorted entries (and, after a spill, a
    /// block of each run) are held, not every row.
    public func sortedRows() -> BucketRowSequence {
        let rank = siteRanks()
        let counts = store.counts, tallies = clients
        let memory = sortOrder(rank: rank).map { sorted in
            var record = Self.record(key: sorted.key, counts: counts[sorted.entry], tally: tallies[sorted.entry])
            record.tally = Int64(sorted.entry)
            return record
        }
        return rowSequence(rank: rank, memory: memory, tallies: tallies, runs: runs)
    }

    /// A record of `counts` under `key`, with what `tally` comes to.
    private static func record(key: UInt64, counts: BucketTable.Counts, tally: ClientTally) -> BucketSpillFile.Record {
        let figures = ClientFigures(tally)
        return BucketSpillFile.Record(
            key: key, counts: counts, distinct: UInt32(clamping: figures.distinct), busiest: UInt32(clamping: figures.busiest))
    }

    /// The rows of `memory` (the table's entries under their sort keys, sorted, with their
    /// `tallies`) and `runs`.
    private func rowSequence(
        rank: [UInt16], memory: [BucketSpillFile.Record], tallies: [ClientTally], runs: [BucketRun]
    ) -> BucketRowSequence {
        var siteOfRank = [UInt16](repeating: 0, count: rank.count)
        for (index, rank) in rank.enumerated() { siteOfRank[Int(rank)] = UInt16(index) }
        return BucketRowSequence(
            siteNames: siteNames, rank: rank, siteOfRank: siteOfRank, memory: memory, tallies: tallies,
            file: spillFile, runs: runs)
    }

    /// The sort rank of each site index: its position among the site names in byte order.
    private func siteRanks() -> [UInt16] {
        let order = siteNames.indices.sorted { siteNames[$0].utf8.lexicographicallyPrecedes(siteNames[$1].utf8) }
        var rank = [UInt16](repeating: 0, count: siteNames.count)
        for (position, index) in order.enumerated() { rank[index] = UInt16(position) }
        return rank
    }

    /// The order of rows as one integer: minute, then the site's `rank` by name, then country.
    @inline(__always)
    static func sortKey(_ raw: UInt64, rank: [UInt16]) -> UInt64 {
        let key = PackedKey(rawValue: raw)
        // Bias the minute so negative minutes (before 1970) still sort first.
        let biased = UInt64(UInt32(bitPattern: key.minute) ^ 0x8000_0000)
        return biased << 32 | UInt64(rank[Int(key.site)]) << 16 | UInt64(key.country.rawValue)
    }

    /// The sort key (minute, site rank, country) and index of each of the table's entries, sorted.
    private func sortOrder(rank: [UInt16]) -> [(key: UInt64, entry: Int)] {
        // Each sort key carries the entry's index, so an entry is found without a probe.
        var sortKeys = store.keys.enumerated().map { entry, raw -> (key: UInt64, entry: Int) in (Self.sortKey(raw, rank: rank), entry) }
        sortKeys.sort { $0.key < $1.key }
        return sortKeys
    }

    /// Total requests per site, by site name.
    public func requestsBySite() -> [String: BucketCounts] {
        var totals: [String: BucketCounts] = [:]
        for (key, counts) in spilledSiteCountries { totals[siteNames[Int(key >> 16)], default: BucketCounts()].merge(counts) }
        for (raw, counts) in zip(store.keys, store.counts) {
            totals[siteNames[Int(PackedKey(rawValue: raw).site)], default: BucketCounts()].merge(counts)
        }
        return totals
    }

    /// Total counters per site, busiest first (ties by name): the order every report lists
    /// sites in, and the one the detectors pick the sites they check by.
    public func sitesByRequests() -> [(site: String, counts: BucketCounts)] {
        requestsBySite().map { (site: $0.key, counts: $0.value) }.sorted {
            $0.counts.requests != $1.counts.requests ? $0.counts.requests > $1.counts.requests : $0.site < $1.site
        }
    }

    /// Total counters per country, busiest first (ties by code).
    public func countriesByRequests() -> [(country: CountryCode, counts: BucketCounts)] {
        countsByCountry().map { (country: $0.key, counts: $0.value) }.sorted {
            $0.counts.requests != $1.counts.requests ? $0.counts.requests > $1.counts.requests : $0.country < $1.country
        }
    }

    /// Total counters per site name and country: one pass over the buckets in memory (a few
    /// milliseconds for the 131,072 held before a spill), none over those spilled.
    public func countsBySiteAndCountry() -> [String: [CountryCode: BucketCounts]] {
        var packed = spilledSiteCountries
        for (raw, counts) in zip(store.keys, store.counts) {
            let key = PackedKey(rawValue: raw)
            packed[UInt32(key.site) << 16 | UInt32(key.country.rawValue), default: BucketCounts()].merge(counts)
        }
        var totals: [String: [CountryCode: BucketCounts]] = [:]
        for (key, counts) in packed {
            totals[siteNames[Int(key >> 16)], default: [:]][CountryCode(rawValue: UInt16(truncatingIfNeeded: key))] = counts
        }
        return totals
    }

    /// Total counters per country.
    public func countsByCountry() -> [CountryCode: BucketCounts] {
        var totals: [CountryCode: BucketCounts] = [:]
        for (key, counts) in spilledSiteCountries {
            totals[CountryCode(rawValue: UInt16(truncatingIfNeeded: key)), default: BucketCounts()].merge(counts)
        }
        for (raw, counts) in zip(store.keys, store.counts) {
            totals[PackedKey(rawValue: raw).country, default: BucketCounts()].merge(counts)
        }
        return totals
    }

    /// Each site's hours with requests, by index (as `siteNames`): counted as buckets spilled,
    /// with the table's. Nil when a spilled run, or the table, reaches back before the latest
    /// hour of the runs spilled before it (lines out of order across a spill, even one of a
    /// bogus date; inputs over the same days): then only the rows, merged, can say.
    public func siteActiveHours() -> [Int]? {
        var hours = spilledHours
        hours.count(run: sortOrder(rank: siteRanks()).lazy.map { store.keys[$0.entry] }, siteCount: siteNames.count)
        return hours.hours(siteCount: siteNames.count)
    }

    /// The earliest and latest minute with any request.
    public var minuteRange: ClosedRange<Int32>? {
        var low = spilledRange?.lowerBound ?? Int32.max, high = spilledRange?.upperBound ?? Int32.min
        for raw in store.keys {
            let minute = PackedKey(rawValue: raw).minute
            low = min(low, minute)
            high = max(high, minute)
        }
        return low <= high ? low...high : nil
    }
}
