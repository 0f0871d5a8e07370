import Foundation
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect
import LogSurgeCore

/// How `logsurge analyze` reads, parses and buckets its inputs, in sections: what the lines
/// are (`lines`), how the inputs are read (`reading`), following them as they grow (`follow`),
/// going on from an earlier run (`resume`), what the detectors are asked (`detection`) and
/// the snapshots of a run still going (`snapshots`). Each setting has one name and one default,
/// stated beside it; the sizes shared with other stages come from `Limits`.
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

    /// What the lines are, and whose requests they count.
    public struct Lines: Sendable {
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
        /// Longer lines are skipped and counted as `line_too_long`. By default, `Limits.longestLine` (1 MiB).
        public var maxLineLength: Int = Limits.longestLine

        public init() {}
    }

    /// How the inputs are read and their counts held.
    public struct Reading: Sendable {
        /// Parse workers. By default, the active processor count. Output is identical for any value.
        public var threads: Int = AnalyzeConfiguration.defaultThreadCount
        /// A chunk handed to a worker holds at least this many bytes of whole lines. By default,
        /// `Limits.chunkSize` (2 MiB).
        public var chunkSize: Int = Limits.chunkSize
        /// A plain regular file is read by the workers in byte ranges of `chunkSize` bytes, but
        /// never less than this, so that a range holds many lines. By default, 64 KiB.
        public var minimumRangeSize: Int = 64 << 10
        /// The gzip inflater. By default, ISA-L when it can be loaded, else zlib.
        public var inflater: Inflater = .automatic
        /// Buckets held in memory before sorted runs of them are written to a temporary file, so
        /// that memory stays bounded however long a span the input covers. By default,
        /// `MinuteBuckets.defaultSpillThreshold`.
        public var bucketsInMemory = MinuteBuckets.defaultSpillThreshold
        /// The run's own files (outputs, the state): never read as logs when a directory holds them.
        public var ownFiles: [String] = []

        public init() {}
    }

    /// Reading the paths as they grow, across rotation, until `stop` says so (`--follow`): they
    /// are one stream, read as it goes.
    public struct Follow: Sendable {
        /// Seconds between looks at followed files when none has grown. By default, 0.25.
        public var pollInterval = 0.25
        /// Seconds a followed file rotated away is still read after it last grew. By default, 10.
        public var rotateWait = 10.0

        public init() {}
    }

    /// Going on from where an earlier run stopped (`--state`).
    public struct Resume: Sendable {
        /// Bytes of content (decompressed) already read of each file, by path, by an earlier run:
        /// reading starts there; `readBefore` passes over the file without opening it. By default, none.
        public var resumeAt: [PathKey: Int64] = [:]
        /// The inputs as the caller found them when it identified them: read instead of looking
        /// through the paths again, so that a file that appears meanwhile (a rotation) waits for
        /// the next run. By default, nil: the paths are looked through when the run starts.
        public var sources: [Result<InputSource, InputError>]?
        /// Files the caller opened and identified already, by path: read through these
        /// descriptors (which stay the caller's), so that what is read is what was identified even
        /// when the path is renamed or replaced meanwhile. By default, none.
        public var pinnedFiles: [PathKey: Int32] = [:]
        /// A last line without its newline is left for a later run (it may be half written),
        /// except at the end of a gzip file read whole; `InputStats.linesEnd` says where a later
        /// run resumes. By default, false: such a line is read as a line.
        public var holdsBackUnterminatedLines = false
        /// Of files passed over as read before (`readBefore`), the bytes of an unterminated last
        /// line an earlier run held back: reported again (`line_held_back`). By default, none.
        public var heldBackBefore: [PathKey: Int64] = [:]
        /// Inputs that are copies of another (the same content), by path: not read; the value is
        /// the path read instead. By default, none.
        public var copies: [PathKey: String] = [:]

        /// A `resumeAt` value: the file was read to its end before and has not changed.
        public static let readBefore = Int64.max

        public init() {}
    }

    /// The totals merged so far, handed out while the run goes (`--metrics` refreshed while
    /// following a log).
    public struct Snapshots: Sendable {
        /// Seconds of wall-clock time between two calls. By default, 60.
        public var interval: Double = 60
        /// Called when the run starts and every `interval` seconds, on a thread of its own;
        /// never after `AnalysisPipeline.run` returns.
        public var body: @Sendable (MetricsSnapshot) -> Void

        public init(interval: Double = 60, body: @escaping @Sendable (MetricsSnapshot) -> Void) {
            self.interval = interval
            self.body = body
        }
    }

    /// The run so far, handed out while it goes (`--html` rewritten while following a log).
    public struct RunSoFar: Sendable {
        /// Seconds of wall-clock time between two calls. By default, 60.
        public var interval: Double = 60
        /// Called when the run starts and every `interval` seconds, on a thread of its own, with
        /// the merging held meanwhile: the buckets it is given may not be kept past the call.
        /// What it returns is called once the merging goes on again (the slow part: writing
        /// out). Never after `AnalysisPipeline.run` returns.
        public var body: @Sendable (Analysis) -> (() -> Void)

        public init(interval: Double = 60, body: @escaping @Sendable (Analysis) -> (() -> Void)) {
            self.interval = interval
            self.body = body
        }
    }

    public var lines = Lines()
    public var reading = Reading()
    /// Nil (the default): the inputs are read to their end once.
    public var follow: Follow?
    public var resume = Resume()
    /// Nil (the default): no snapshots.
    public var snapshots: Snapshots?
    /// Nil (the default): the run is handed out only when it ends.
    public var runSoFar: RunSoFar?
    /// The country database.
    public var database: MMDBReader
    /// What the run asks of the detectors (`DetectionPolicy`: thresholds, minutes decided as
    /// the stream goes or at the end, charts); nil when the caller runs them itself, over more
    /// than this run's buckets (`--state`). By default, `DetectionPolicy()` (US watched,
    /// decided at the end, no charts).
    public var detection: DetectionPolicy? = DetectionPolicy()
    /// Reading a stream decided as it goes (a pipe, `--follow`): seconds of wall-clock time
    /// without a new line after which the minutes still waiting for later lines are decided,
    /// and then each further minute without a line is a minute of log time without requests
    /// (`--idle-flush`). By default, 60.
    public var idleFlush: Double = 60
    /// Called with each alert event as soon as it is raised or closed (on the thread that steps
    /// the detectors: the merging thread of a stream).
    public var onAlert: (@Sendable (AlertEvent) -> Void)?
    /// Asked while waiting for more of a stream or a followed file: when it says so (SIGINT,
    /// SIGTERM), reading ends there and the run finishes with what it has. By default, none.
    public var stop: StopCheck?

    public init(database: MMDBReader, threads: Int = defaultThreadCount) {
        self.database = database
        self.reading.threads = max(1, threads)
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
