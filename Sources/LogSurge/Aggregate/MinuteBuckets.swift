import LogSurgeGeo

/// One row of the per-minute buckets: a UTC minute, a site and a country with their counters.
public struct BucketRow: Sendable, Equatable {
    /// UTC minutes since 1970-01-01T00:00Z.
    public var minute: Int32
    public var site: String
    public var country: CountryCode
    public var counts: BucketCounts

    public init(minute: Int32, site: String, country: CountryCode, counts: BucketCounts) {
        self.minute = minute
        self.site = site
        self.country = country
        self.counts = counts
    }
}

/// Requests per UTC minute × site × country for a whole run.
///
/// Chunk tallies are merged into it in chunk order; because every counter is a sum, the
/// result does not depend on how lines were split into chunks or spread over workers.
public struct MinuteBuckets: Sendable {
    /// The site that collects every site beyond the first 65,534 distinct ones of a run.
    public static let overflowSite = "~other"

    public private(set) var siteNames: [String] = []
    private var siteIndex: [String: UInt16] = [:]
    private var store = BucketTable(initialCapacity: 4096)

    public init() {}

    /// The number of (minute, site, country) buckets.
    public var count: Int { store.count }

    /// Adds `counts` under (minute, site, country).
    public mutating func add(minute: Int32, site: String, country: CountryCode, counts: BucketCounts) {
        store.merge(PackedKey(minute: minute, site: globalIndex(of: site), country: country), .init(counts))
    }

    /// Merges one chunk's tally, whose site indices refer to `localSites`.
    mutating func merge(_ entries: [(key: PackedKey, counts: BucketTable.Counts)], localSites: [String]) {
        var translation = [UInt16?](repeating: nil, count: localSites.count)
        for (key, counts) in entries {
            let local = Int(key.site)
            let site: UInt16
            if let known = translation[local] {
                site = known
            } else {
                site = globalIndex(of: localSites[local])
                translation[local] = site
            }
            store.merge(PackedKey(minute: key.minute, site: site, country: key.country), counts)
        }
    }

    /// Adds every bucket of `other` (e.g. buckets read back from several servers' exports).
    public mutating func merge(_ other: MinuteBuckets) {
        for (raw, counts) in zip(other.store.keys, other.store.counts) {
            let key = PackedKey(rawValue: raw)
            add(minute: key.minute, site: other.siteNames[Int(key.site)], country: key.country, counts: BucketCounts(counts))
        }
    }

    /// Adds every bucket of `other`, one input's buckets, as if its chunks were merged here:
    /// its sites are taken in the order they first appeared in it, so the sites that fold into
    /// `overflowSite` are the same.
    mutating func merge(inOrder other: MinuteBuckets) {
        let translation = other.siteNames.map { globalIndex(of: $0) }
        for (raw, counts) in zip(other.store.keys, other.store.counts) {
            let key = PackedKey(rawValue: raw)
            store.merge(PackedKey(minute: key.minute, site: translation[Int(key.site)], country: key.country), counts)
        }
    }

    /// The name a site is kept under: itself, or `overflowSite` once the run has too many sites.
    func mergedName(of name: String) -> String {
        siteIndex[name].map { siteNames[Int($0)] } ?? Self.overflowSite
    }

    private mutating func globalIndex(of name: String) -> UInt16 {
        if let index = siteIndex[name] { return index }
        if siteNames.count >= Int(UInt16.max) - 1, name != Self.overflowSite {
            return globalIndex(of: Self.overflowSite)
        }
        let index = UInt16(siteNames.count)
        siteNames.append(name)
        siteIndex[name] = index
        return index
    }

    /// All buckets sorted by minute, site name, then country (`--` first).
    public func rows() -> [BucketRow] { Array(sortedRows()) }

    /// The same rows made one at a time: only the sorted keys (16 bytes a bucket) are held, not every row.
    public func sortedRows() -> LazyMapSequence<[(key: UInt64, entry: Int)], BucketRow> {
        // Rank sites by name once, then sort packed keys with the rank in place of the index.
        let store = store, siteNames = siteNames
        let order = siteNames.indices.sorted { siteNames[$0].utf8.lexicographicallyPrecedes(siteNames[$1].utf8) }
        var rank = [UInt16](repeating: 0, count: siteNames.count)
        for (position, index) in order.enumerated() { rank[index] = UInt16(position) }
        // Each sort key carries the entry's index, so a row reads its counters without a probe.
        var sortKeys = store.keys.enumerated().map { entry, raw -> (key: UInt64, entry: Int) in
            let key = PackedKey(rawValue: raw)
            // Bias the minute so negative minutes (before 1970) still sort first.
            let biased = UInt64(UInt32(bitPattern: key.minute) ^ 0x8000_0000)
            return (biased << 32 | UInt64(rank[Int(key.site)]) << 16 | UInt64(key.country.rawValue), entry)
        }
        sortKeys.sort { $0.key < $1.key }
        let counts = store.counts
        return sortKeys.lazy.map { sorted in
            let minute = Int32(bitPattern: UInt32(truncatingIfNeeded: sorted.key >> 32) ^ 0x8000_0000)
            let site = order[Int(UInt16(truncatingIfNeeded: sorted.key >> 16))]
            let country = CountryCode(rawValue: UInt16(truncatingIfNeeded: sorted.key))
            return BucketRow(minute: minute, site: siteNames[site], country: country, counts: BucketCounts(counts[sorted.entry]))
        }
    }

    /// Total requests per site, by site name.
    public func requestsBySite() -> [String: BucketCounts] {
        var totals: [String: BucketCounts] = [:]
        for (raw, counts) in zip(store.keys, store.counts) {
            totals[siteNames[Int(PackedKey(rawValue: raw).site)], default: BucketCounts()].merge(counts)
        }
        return totals
    }

    /// Total counters per country.
    public func countsByCountry() -> [CountryCode: BucketCounts] {
        var totals: [CountryCode: BucketCounts] = [:]
        for (raw, counts) in zip(store.keys, store.counts) {
            totals[PackedKey(rawValue: raw).country, default: BucketCounts()].merge(counts)
        }
        return totals
    }

    /// The earliest and latest minute with any request.
    public var minuteRange: ClosedRange<Int32>? {
        var low = Int32.max, high = Int32.min
        for raw in store.keys {
            let minute = PackedKey(rawValue: raw).minute
            low = min(low, minute)
            high = max(high, minute)
        }
        return store.isEmpty ? nil : low...high
    }
}
