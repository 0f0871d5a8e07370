import Foundation
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeCore

/// How `logsurge analyze` reads, parses and buckets its inputs.
public struct AnalyzeConfiguration: Sendable {
    /// Which access-log format the inputs are in.
    public enum FormatChoice: Sendable, Equatable {
        /// Decided per input from its first lines, among the named formats.
        case auto
        /// A named format (`--format`) or the server's own format string (`--log-format`).
        case fixed(LineFormat)
    }

    /// A `--section NAME=PREFIX` rule: requests whose path starts with `prefix` belong to
    /// site `HOST/NAME` (or `NAME` when the format has no host). The longest matching prefix wins.
    public struct Section: Sendable, Equatable {
        public var name: String
        public var prefix: String
        public init(name: String, prefix: String) {
            self.name = name
            self.prefix = prefix
        }
    }

    /// The log format. By default, `.auto`.
    public var format: FormatChoice = .auto
    /// The request headers that hold the client's address chain (`--real-ip`) and country
    /// (`--country-from`). By default, neither.
    public var headers = HeaderRoles()
    /// The proxies passed over when walking the chain (`--trusted-proxy`). By default, private
    /// addresses and every embedded CDN.
    public var trustedProxies = TrustedProxies.proxyLike
    /// The proxies whose `--country-from` header is believed (by default those of the CDN that sets it).
    public var countryTrustedProxies = TrustedProxies.proxyLike
    /// Site name for lines whose format carries no virtual host. By default, `-`.
    public var site: String = "-"
    /// Sections carved out of sites by path prefix. By default, none.
    public var sections: [Section] = []
    /// Parse workers. By default, the active processor count. Output is identical for any value.
    public var threads: Int
    /// A chunk handed to a worker holds at least this many bytes of whole lines. By default, 2 MiB.
    public var chunkSize: Int = Limits.chunkSize
    /// A plain regular file is read by the workers in byte ranges of `chunkSize` bytes, but
    /// never less than this, so that a range holds many lines. By default, 64 KiB.
    public var minimumRangeSize: Int = 64 << 10
    /// Buckets held in memory before sorted runs of them are written to a temporary file, so
    /// that memory stays bounded however long a span the input covers. By default,
    /// `MinuteBuckets.defaultSpillThreshold`.
    public var bucketsInMemory = MinuteBuckets.defaultSpillThreshold
    /// The gzip inflater. By default, ISA-L when it can be loaded, else zlib.
    public var inflater: Inflater = .automatic
    /// Longer lines are skipped and counted as `line_too_long`. By default, 1 MiB.
    public var maxLineLength: Int = Limits.longestLine
    /// The country database.
    public var database: MMDBReader
    /// What the run asks of the detectors (`DetectionPolicy`: thresholds, minutes decided as
    /// the stream goes or at the end, charts); nil when the caller runs them itself, over more
    /// than this run's buckets (`--state`). By default, `DetectionPolicy()` (US watched,
    /// decided at the end, no charts).
    public var detection: DetectionPolicy? = DetectionPolicy()
    /// Called with each alert event as soon as it is raised or closed (on the thread that steps
    /// the detectors: the merging thread of a stream).
    public var onAlert: (@Sendable (AlertEvent) -> Void)?
    /// Read the paths as they grow, across rotation, until `stop` says so (`--follow`): they
    /// are one stream, read as it goes. By default, false.
    public var follow = false
    /// Seconds between looks at followed files when none has grown. By default, 0.25.
    public var followPollInterval = 0.25
    /// Seconds a followed file rotated away is still read after it last grew. By default, 10.
    public var followRotateWait = 10.0
    /// Bytes of content (decompressed) already read of each file, by path, by an earlier run
    /// (`--state`): reading starts there; `readBefore` passes over the file without opening it.
    /// By default, none.
    public var resumeAt: [PathKey: Int64] = [:]
    /// The inputs as the caller found them when it identified them (`--state`): read instead
    /// of looking through the paths again, so that a file that appears meanwhile (a rotation)
    /// waits for the next run. By default, nil: the paths are looked through when the run starts.
    public var sources: [Result<InputSource, InputError>]?
    /// Files the caller opened and identified already (`--state`), by path: read through these
    /// descriptors (which stay the caller's), so that what is read is what was identified even
    /// when the path is renamed or replaced meanwhile. By default, none.
    public var pinnedFiles: [PathKey: Int32] = [:]
    /// A last line without its newline is left for a later run (`--state`: it may be half
    /// written), except at the end of a gzip file read whole; `InputStats.linesEnd` says
    /// where a later run resumes. By default, false: such a line is read as a line.
    public var holdsBackUnterminatedLines = false
    /// Of files passed over as read before (`readBefore`), the bytes of an unterminated last
    /// line an earlier run held back: reported again (`line_held_back`). By default, none.
    public var heldBackBefore: [PathKey: Int64] = [:]
    /// Inputs that are copies of another (`--state` found the same content), by path: not
    /// read; the value is the path read instead. By default, none.
    public var copies: [PathKey: String] = [:]
    /// The run's own files (outputs, the state): never read as logs when a directory holds them.
    public var ownFiles: [String] = []
    /// A `resumeAt` value: the file was read to its end before and has not changed.
    public static let readBefore = Int64.max
    /// Called every `snapshotInterval` seconds of wall-clock time while the run goes, on a
    /// thread of its own, with the totals merged so far (`--metrics` refreshed while following
    /// a log); never after `AnalysisPipeline.run` returns. By default, none.
    public var onSnapshot: (@Sendable (MetricsSnapshot) -> Void)?
    /// Seconds between two `onSnapshot` calls. By default, 60.
    public var snapshotInterval: Double = 60
    /// Asked while waiting for more of a stream or a followed file: when it says so (SIGINT,
    /// SIGTERM), reading ends there and the run finishes with what it has. By default, none.
    public var stop: StopCheck?

    public init(database: MMDBReader, threads: Int = defaultThreadCount) {
        self.database = database
        self.threads = max(1, threads)
    }

    /// The active processor count.
    public static var defaultThreadCount: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The most parse workers a run starts: 4 per active processor (at least 8). More cannot
    /// run at once and only add memory (each holds a GeoIP cache, a site table and a tally).
    public static var maximumWorkers: Int { max(8, 4 * defaultThreadCount) }

    /// The workers a run starts for `--threads requested`: at least 1, at most `maximumWorkers`.
    public static func workers(for requested: Int) -> Int { min(max(1, requested), maximumWorkers) }
}
