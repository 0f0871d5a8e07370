import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
@_spi(Pipeline) import LogSurgeAggregate

/// For the stage benchmark: the merge stage alone. The merge (each chunk's tally folded into
/// the run's buckets, in chunk order, spilling as the run grows) is internal to the pipeline;
/// this parses a plain file's ranges once, as one worker would, keeps their tallies, and merges
/// them again on each call, so the merge can be timed without the parse around it.
@_spi(Benchmarks) public struct ChunkMergeBenchmark: Sendable {
    private let results: [ChunkResult]
    /// Tally entries (one per minute, site and country of a chunk) that each merge folds in.
    public let entries: Int

    /// The tallies of `path` (a plain file) in ranges of `configuration.reading.chunkSize`; nil when it
    /// is not a plain regular file.
    public init?(path: String, configuration: AnalyzeConfiguration) {
        guard let file = PlainFile(path: path) else { return nil }
        var processor = ChunkProcessor(configuration: configuration)
        let format: LineFormat = if case .fixed(let fixed) = configuration.lines.format { fixed } else { LineFormat(.combined) }
        let embedded = EmbeddedCountryDatabase.tables(for: configuration.database)
        let tables = CountryTables(
            ipv4: embedded?.ipv4 ?? IPv4CountryTable(reader: configuration.database),
            ipv6: embedded?.ipv6 ?? IPv6CountryTable(reader: configuration.database))
        let step = Int64(max(1, configuration.reading.chunkSize))
        results = stride(from: Int64(0), to: file.size, by: Int(step)).enumerated().map { sequence, start in
            processor.process(
                WorkItem(
                    sequence: sequence, input: 0, format: format,
                    payload: .range(file, start..<min(start + step, file.size))), tables: tables)
        }
        entries = results.reduce(0) { total, result in total + result.tallies.reduce(0) { $0 + $1.entries.count } }
    }

    /// Merges every tally, in order, into empty buckets as the merger does (spilling past
    /// `bucketsInMemory`); the number of minutes they span, so the work is kept.
    public func merge(bucketsInMemory: Int = MinuteBuckets.defaultSpillThreshold) -> Int {
        var buckets = MinuteBuckets(spillThreshold: bucketsInMemory)
        for result in results {
            for part in result.tallies { buckets.merge(part.entries, clients: part.clients, localSites: part.siteNames) }
        }
        return buckets.minuteRange?.count ?? 0
    }

    /// The floor: every tally entry read once, its requests summed.
    public func readEntries() -> Int {
        var requests = 0
        for result in results {
            for part in result.tallies {
                for entry in part.entries { requests &+= Int(entry.counts.requests) }
            }
        }
        return requests
    }
}
