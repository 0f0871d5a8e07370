import CLogSurgeSystem
import Dispatch
import Foundation
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import Synchronization
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect

/// What one input contributed to a run.
public struct InputReport: Sendable {
    /// The input as named on the command line (`-` for standard input).
    public var name: String
    public var stats: InputStats?
    /// The format its lines were parsed with; nil when no byte of it was read.
    public var format: LineFormat?
    /// How `format` was chosen.
    public var formatChoice: FormatChoice = .option
    /// A named format its first lines parse under, when they did not parse under `format`.
    public var suggestion: LineFormat?

    /// How an input's format was chosen.
    public enum FormatChoice: String, Sendable {
        /// Given by `--format` or `--log-format`.
        case option
        /// Decided from the input's first lines.
        case detected
        /// No line of the first chunk had a known format: read as `combined`, lines counted as malformed.
        case assumed
    }
    /// Lines read from this input (parsed or malformed).
    public var lines: UInt64 = 0
    /// Lines of it that parsed.
    public var parsed: UInt64 = 0
    /// Lines of it that did not, by reason (index of `MalformedReason.allCases`).
    public var malformed = [UInt64](repeating: 0, count: MalformedReason.allCases.count)
    /// Why the input could not be read to its end, if it could not.
    public var error: InputError?
}

/// Everything a run learnt: the buckets, the accounting and the inputs.
public struct Analysis: Sendable {
    public var buckets = MinuteBuckets()
    public var accounting = RunAccounting()
    public var inputs: [InputReport] = []
    public var threads: Int = 1
    /// The gzip inflater that ran.
    public var inflater: Inflater = .zlib
    /// Alert events in the order they were raised and closed.
    public var alerts: [AlertEvent] = []
    /// Episodes an earlier run raised (`--state`) that are still going on at this run's last
    /// minute, as their opening events: shown by the reports and the metrics, not written
    /// again as alert lines nor counted as raised by this run.
    public var earlierEpisodes: [AlertEvent] = []
    /// The series the detectors saw, when `AnalyzeConfiguration.traceColumns` asked for them
    /// and the detectors ran over the finished buckets.
    public var trace: DetectionTrace?
    /// Lines of minutes the detectors had already decided when they arrived (see
    /// `DetectionPolicy.lateness`); counted in the buckets all the same.
    public var lateLines: UInt64 = 0
    /// How many sites the detectors checked at each step length (`DetectionRun.Outcome.sitesByStep`);
    /// empty when each was checked a minute at a time.
    public var sitesByStep: [(stepMinutes: Int, sites: Int)] = []
    /// Chunks handed to workers.
    public var chunks: Int = 0
    /// The most chunks that were ever in flight at once (queued, parsing, or waiting to merge);
    /// never more than `2 × threads + 2`, however fast the reader is.
    public var peakChunksInFlight: Int = 0
    /// The most inputs that were being read at once (several archives inflate side by side).
    public var peakInputsReadAtOnce: Int = 0
    /// What the run found that may make its numbers wrong (`RunWarning`).
    public var warnings: [RunWarning] = []
    /// Inputs named more than once (one file under several names, or a copy of another's
    /// content), read once under the first: `(path, read as)`.
    public var inputsReadOnce: [(path: String, readAs: String, sameFile: Bool)] = []
    /// What the alert deliveries came to (`--alertmanager`, `--webhook`), set by the caller
    /// that delivered them; nil without receivers.
    public var deliveries: DeliveryCounts?

    /// Inputs that could not be read to their end.
    public var inputErrors: [InputError] { inputs.compactMap(\.error) }
}
