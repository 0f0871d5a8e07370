import LogSurgeParse

/// A malformed line kept as an example for the report.
public struct MalformedSample: Sendable, Equatable {
    public var reason: MalformedReason
    /// The input it came from, as named on the command line (`-` for standard input).
    public var input: String
    /// 1-based line number within that input (after decompression).
    public var line: UInt64
    /// The line's first bytes (at most `RunAccounting.sampleLength`), raw: escape before showing.
    public var bytes: [UInt8]
}

/// What happened to every line of a run: `lines == parsed + sum(malformed)`.
public struct RunAccounting: Sendable, Equatable {
    /// Samples kept per malformed reason.
    public static let samplesPerReason = 3
    /// Bytes of a malformed line kept in a sample.
    public static let sampleLength = 160

    public var lines: UInt64 = 0
    public var parsed: UInt64 = 0
    public var malformed: [MalformedReason: UInt64] = [:]
    public var samples: [MalformedSample] = []
    /// Lookups that hit corrupt data in the GeoIP database (those requests count as `--`).
    public var geoLookupErrors: UInt64 = 0
    /// Where the parsed lines' clients and countries came from.
    public var clients = ClientCounts()
    /// W3C directive lines (`#Version:`, `#Fields:` …): not log lines, so not in `lines`.
    public var directives: UInt64 = 0

    public init() {}

    /// Adds what `other` counted (its samples while there is room for them).
    mutating func absorb(_ other: RunAccounting) {
        lines += other.lines
        parsed += other.parsed
        for (reason, count) in other.malformed { malformed[reason, default: 0] += count }
        for sample in other.samples { addSample(sample) }
        geoLookupErrors += other.geoLookupErrors
        clients.add(other.clients)
        directives += other.directives
    }

    public var malformedTotal: UInt64 { malformed.values.reduce(0, +) }

    /// Holds when every line was either parsed or counted under a reason.
    public var isBalanced: Bool { lines == parsed + malformedTotal }

    mutating func addSample(_ sample: MalformedSample) {
        if samples.lazy.filter({ $0.reason == sample.reason }).count < Self.samplesPerReason {
            samples.append(sample)
        }
    }
}
