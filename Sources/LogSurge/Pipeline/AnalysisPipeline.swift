import CSystem
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
    /// The series the detectors saw, when `AnalyzeConfiguration.traceColumns` asked for them
    /// and the detectors ran over the finished buckets.
    public var trace: DetectionTrace?
    /// Lines of minutes the detectors had already decided when they arrived (see
    /// `AnalyzeConfiguration.detectionLateness`); counted in the buckets all the same.
    public var lateLines: UInt64 = 0
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

    /// Inputs that could not be read to their end.
    public var inputErrors: [InputError] { inputs.compactMap(\.error) }
}

/// The parallel analysis stage.
///
/// One reader (the calling thread) cuts inputs into line-aligned chunks and feeds a bounded
/// queue; `threads` Dispatch workers parse and tally whole chunks; results are merged in chunk
/// order. The number of chunks in flight (queued, being parsed, or waiting for their turn to
/// merge) is bounded, so a reader faster than the workers waits instead of buffering.
public struct AnalysisPipeline: Sendable {
    public var configuration: AnalyzeConfiguration

    public init(configuration: AnalyzeConfiguration) {
        self.configuration = configuration
    }

    /// Inputs read side by side at most (fewer with fewer threads).
    public static let maximumInputsAtOnce = 4

    /// Reads `paths` (files, directories, `-`) as one stream of events.
    public func run(paths: [String]) -> Analysis {
        run(paths: paths, whileDetecting: { _ in })
    }

    /// The same; `whileDetecting` gets the finished buckets and accounting (no alerts yet) while the
    /// detectors run over the buckets on another thread: a caller writes its outputs there
    /// instead of after. (A stream read as it goes has its alerts already.)
    public func run(paths: [String], whileDetecting work: (Analysis) throws -> Void) rethrows -> Analysis {
        // Followed files are one stream: their lines in the order they are read.
        let (sources, readOnce) = configuration.follow ? ([.success(.followed(paths))], [])
            : Self.readingOnce(configuration.sources
                                   ?? Self.leavingOut(configuration.ownFiles, from: InputDiscovery.expand(paths.isEmpty ? ["-"] : paths)),
                               copies: configuration.copies)
        let threads = AnalyzeConfiguration.workers(for: configuration.threads)
        // Deciding minutes as the stream goes only when asked to (a pipe); otherwise the
        // detectors run over the finished buckets, which needs no per-minute state until then.
        let detection = configuration.detectionLateness.map { lateness in
            StreamingDetection(configuration: configuration.detection, lateness: lateness, traceColumns: configuration.traceColumns,
                               onEvent: configuration.onAlert ?? { _ in })
        }
        // Several inputs are read at once (so N archives inflate on N cores), each merged apart
        // and folded into the run in input order; at most 4, as each holds a reader's buffers
        // and a tally. A stream that alerts as it goes is one input at a time, merged chunk by chunk.
        let window = detection == nil ? min(threads, max(1, sources.count), Self.maximumInputsAtOnce) : 1
        let merger = OrderedMerger(threads: threads, bucketsInMemory: configuration.bucketsInMemory, window: window,
                                   detection: detection, inputs: sources.map { result -> InputReport in
            switch result {
            case .success(let source): InputReport(name: source.displayName)
            case .failure(let error): InputReport(name: error.path, error: error)
            }
        })
        // A run that goes on (a followed log) hands out its totals so far every minute or so.
        let ticker = configuration.onSnapshot.map { body in
            SnapshotTicker(interval: configuration.snapshotInterval) { body(merger.snapshot()) }
        }
        let queue = WorkQueue()
        let group = DispatchGroup()
        // Chunk buffers go back to the readers once parsed; a reader cuts one chunk at a time,
        // so a couple of spares each is all a pool needs (more would only hold memory).
        let pool = ChunkPool(limit: 2 * window)
        // Countries without walking the tree per client: the tables (IPv4, then IPv6 networks) are
        // built once, on another thread while the first chunks are parsed (they walk the tree
        // meanwhile; the answers are the same), and shared read-only. The embedded database's
        // tables come ready-made with it (a few milliseconds instead of some 30).
        let countryTables = CountryTablesSlot()
        let database = configuration.database
        let building = DispatchGroup()
        // A queue of its own (a thread of its own), as for every task of a run that is waited
        // for: from a caller that itself holds a thread of Dispatch's global pool (a test, a task
        // of Swift concurrency), a block queued on that pool may wait about a second for a thread.
        DispatchQueue(label: "logsurge.tables", qos: .userInitiated).async(group: building) {
            if let image = EmbeddedCountryDatabase.tables(for: database) {
                countryTables.tables = CountryTables(ipv4: image.ipv4, ipv6: image.ipv6)
                return
            }
            let ipv4 = IPv4CountryTable(reader: database, abandon: { countryTables.isAbandoned })
            countryTables.tables = CountryTables(ipv4: ipv4)
            let ipv6 = IPv6CountryTable(reader: database, abandon: { countryTables.isAbandoned })
            countryTables.tables = CountryTables(ipv4: ipv4, ipv6: ipv6)
        }
        defer {
            // A short run ends before the tables are ready: it stops building instead of being waited for.
            countryTables.isAbandoned = true
            building.wait()  // no work of the run outlives it
        }
        for worker in 0..<threads {
            let configuration = configuration
            // A thread of its own, not a block on Dispatch's pool: workers block on the queue,
            // and a pool of blocked workers (Dispatch's has about 255 threads) would never run
            // the reader they wait for.
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                var processor = ChunkProcessor(configuration: configuration)
                var yielded = false
                while let item = queue.pop() {
                    if case .chunk = item.payload, !yielded {
                        // Chunks come from a reader, the one stage that cannot be split: when it
                        // competes with the workers for a core, it goes first. (Byte ranges of
                        // plain files have no such reader: their workers keep their priority.)
                        _ = logsurge_lower_thread_priority(3)
                        yielded = true
                    }
                    merger.submit(processor.process(item, tables: countryTables.tables))
                    if case .chunk(let chunk) = item.payload { pool.give(chunk.bytes) }
                }
            }
            thread.name = "logsurge.parse.\(worker)"
            thread.qualityOfService = .userInitiated
            thread.start()
        }

        let reader = {
            var reader = InputReader(targetChunkSize: configuration.chunkSize, maxLineLength: configuration.maxLineLength,
                                     inflater: configuration.inflater)
            reader.pool = pool
            reader.stop = configuration.stop
            reader.followPollInterval = configuration.followPollInterval
            reader.followRotateWait = configuration.followRotateWait
            reader.holdsBackUnterminatedLine = configuration.holdsBackUnterminatedLines
            return reader
        }()
        let claims = InputClaims(count: sources.count)
        let readers = DispatchGroup()
        for slot in 0..<window {
            DispatchQueue(label: "logsurge.read.\(slot)", qos: .userInitiated).async(group: readers) {
                while let index = claims.next() {
                    guard case .success(let source) = sources[index] else { continue }
                    merger.waitUntilInputMayStart(index, window: window)
                    read(source, index: index, reader: reader, queue: queue, merger: merger)
                }
            }
        }
        readers.wait()
        for _ in 0..<threads { queue.push(nil) }
        group.wait()
        ticker?.stop()
        var analysis = merger.finish(threads: threads)
        analysis.inputsReadOnce = readOnce
        analysis.inflater = reader.inflater
        Self.reportInputsWithoutRequests(&analysis)
        analysis.warnings = RunWarning.evaluate(analysis, configuration: configuration)
        guard detection == nil, configuration.detects else {
            try work(analysis)
            return analysis
        }
        let alerts = AlertsBox()
        let detecting = DispatchGroup()
        let (buckets, detectorConfiguration, onAlert) = (analysis.buckets, configuration.detection, configuration.onAlert)
        let trace = DetectionTrace(spanOf: buckets, maximumColumns: configuration.traceColumns)
        DispatchQueue(label: "logsurge.detect", qos: .userInitiated).async(group: detecting) {
            alerts.events = Detection.run(buckets, configuration: detectorConfiguration, trace: trace, onEvent: onAlert ?? { _ in })
        }
        defer { detecting.wait() }
        try work(analysis)
        detecting.wait()
        analysis.alerts = alerts.events
        analysis.trace = trace
        return analysis
    }
}

extension AnalysisPipeline {
    /// `sources` with each file once: a later name of a file named before (the same device
    /// and inode: `logs/` and `logs/access.log`, a symlink, `./access.log`) is left out, and
    /// so is a path of `copies` (a copy of another input's content, by path: `--state` knows
    /// them); what was left out, and the input read instead.
    static func readingOnce(_ sources: [Result<InputSource, InputError>], copies: [PathKey: String])
        -> ([Result<InputSource, InputError>], [(path: String, readAs: String, sameFile: Bool)]) {
        var seen: [String: String] = [:]
        var kept: [Result<InputSource, InputError>] = []
        var left: [(path: String, readAs: String, sameFile: Bool)] = []
        for source in sources {
            guard case .success(.file(let path)) = source else {
                kept.append(source)
                continue
            }
            if let original = copies[PathKey(path)] {
                left.append((path, original, false))
                continue
            }
            if let key = regularFileKey(path) {
                if let first = seen[key] {
                    left.append((path, first, true))
                    continue
                }
                seen[key] = path
            }
            kept.append(source)
        }
        return (kept, left)
    }

    /// `sources` without the files among `own` (by device and inode): a state file or an
    /// output kept in the log directory is not a log.
    public static func leavingOut(_ own: [String], from sources: [Result<InputSource, InputError>]) -> [Result<InputSource, InputError>] {
        let keys = Set(own.compactMap(regularFileKey))
        guard !keys.isEmpty else { return sources }
        return sources.filter { source in
            guard case .success(.file(let path)) = source, let found = regularFileKey(path) else { return true }
            return !keys.contains(found)
        }
    }

    /// `device:inode` of the regular file at `path`; nil for anything else.
    private static func regularFileKey(_ path: String) -> String? {
        var status = stat()
        guard SystemPath.stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        return "\(status.st_dev):\(status.st_ino)"
    }

    /// Reads one input into work items: byte ranges of a plain file, or chunks cut by the reader.
    private func read(_ source: InputSource, index: Int, reader: InputReader, queue: WorkQueue, merger: OrderedMerger) {
        var format: LineFormat?
        var choice = InputReport.FormatChoice.option
        var suggestion: LineFormat?
        if case .fixed(let fixed) = configuration.format { format = fixed }
        var sequence = 0
        func dispatch(_ payload: WorkItem.Payload, as format: LineFormat) {
            merger.reserveSlot()
            queue.push(WorkItem(sequence: sequence, input: index, format: format, payload: payload))
            sequence += 1
        }
        if case .file(let path) = source, configuration.resumeAt[PathKey(path)] == AnalyzeConfiguration.readBefore {
            // Read completely by an earlier run and unchanged since: not opened at all.
            let stats = InputStats(heldBack: configuration.heldBackBefore[PathKey(path)] ?? 0)
            merger.finishInput(index, items: 0, stats: stats, format: format, choice: choice, suggestion: nil, error: nil)
            return
        }
        var skip: Int64 = 0
        var pinned: Int32?
        if case .file(let path) = source {
            skip = max(0, configuration.resumeAt[PathKey(path)] ?? 0)
            pinned = configuration.pinnedFiles[PathKey(path)]
        }
        let holdsBack = configuration.holdsBackUnterminatedLines
        // The format is decided from the input's head, also when an earlier run read part of it.
        var head: [LineChunk]?
        if case .file(let path) = source,
           let file = pinned.map({ PlainFile(duplicating: $0, path: path, holdingBackUnterminatedLine: holdsBack) })
               ?? PlainFile(path: path, holdingBackUnterminatedLine: holdsBack) {
            head = file.leadingChunks(maxLineLength: configuration.maxLineLength, until: FormatSample.isComplete)
            if format == nil { (format, choice) = FormatSample.decide(head!) }
            if let format, !format.isW3C {
                // A plain regular file: the workers read their own byte ranges of it.
                suggestion = FormatSample.suggestion(head!, readAs: format)
                let step = Int64(max(1, configuration.chunkSize, configuration.minimumRangeSize))
                // What an earlier run read is passed over (a range's first line is the first that starts in it).
                for start in stride(from: min(skip, file.size), to: file.size, by: Int(step)) {
                    dispatch(.range(file, start..<min(start + step, file.size)), as: format)
                }
                var stats = InputStats(compression: .none)
                stats.linesEnd = skip
                merger.finishInput(index, items: sequence, stats: stats, format: format, choice: choice,
                                   suggestion: suggestion, error: nil)
                return
            }
            // W3C is read by one reader in order, so that each chunk gets the columns of the
            // `#Fields:` line before it.
        }
        // A stream, gzip, or W3C. Resuming, the head (for the format) and the columns in effect
        // where reading resumes come from reading the input's start again.
        var columns: [UInt8]?
        if skip > 0, format?.isW3C ?? true {
            let prelude = FormatSample.prelude(of: source, pinned: pinned, reader: reader, upTo: skip,
                                               wantsHead: format == nil && head == nil)
            if format == nil, let sample = head ?? prelude.head { (format, choice) = FormatSample.decide(sample) }
            columns = prelude.columns
        }
        // With --format auto, chunks are held back until the detection sample is complete,
        // so the format (and so the output) does not depend on the chunk size.
        var held: [LineChunk] = []
        var first = true
        func send(_ chunk: LineChunk, as format: LineFormat) {
            if first {
                suggestion = FormatSample.suggestion([chunk], readAs: format)
                first = false
            }
            guard format.isW3C else { return dispatch(.chunk(chunk), as: format) }
            dispatch(.chunk(chunk), as: format.withFieldsLine(columns))
            if let last = W3CColumns.lastFieldsLine(in: chunk.bytes) { columns = last }
        }
        func decide() {
            (format, choice) = FormatSample.decide(held)
            for chunk in held { send(chunk, as: format!) }
            held = []
        }
        let (stats, error) = reader.read(source, pinned: pinned, skip: skip) { chunk in
            if let format {
                send(chunk, as: format)
            } else {
                held.append(chunk)
                if FormatSample.isComplete(held) { decide() }
            }
        }
        if format == nil, !held.isEmpty { decide() }
        merger.finishInput(index, items: sequence, stats: stats, format: format, choice: choice, suggestion: suggestion, error: error)
    }

    /// An input with lines of which none parsed could not be read: an input error naming the
    /// format tried and, when one of the named formats fits its first lines, that one.
    static func reportInputsWithoutRequests(_ analysis: inout Analysis) {
        for index in analysis.inputs.indices {
            let input = analysis.inputs[index]
            guard input.error == nil, input.lines > 0, input.parsed == 0, let format = input.format else { continue }
            // Blank lines only: nothing to read, and nothing wrong with the format.
            guard input.malformed[MalformedReason.empty.index] < input.lines else { continue }
            let tried = format.name == "log-format" ? "with the --log-format string" : "as \(format.name)"
            var message: String
            switch input.formatChoice {
            case .option: message = "none of its \(input.lines) lines parsed \(tried)"
            case .detected: message = "none of its \(input.lines) lines parsed \(tried) (detected from its first lines)"
            case .assumed: message = "none of its \(input.lines) lines parsed: no format logsurge knows fits them (read as \(format.name))"
            }
            let reasons = zip(MalformedReason.allCases, input.malformed).filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
            message += " (" + reasons.map { "\($0.0.rawValue) \($0.1)" }.joined(separator: ", ") + ")"
            // The first line kept as a sample shows the user what logsurge saw.
            if let sample = analysis.accounting.samples.filter({ $0.input == input.name && $0.reason != .empty }).min(by: { $0.line < $1.line }) {
                let shown = sample.bytes.prefix(100)
                message += "; line \(sample.line) reads \"\(Escaping.terminal(shown))\(sample.bytes.count > shown.count ? "…" : "")\""
            }
            if let suggestion = input.suggestion, suggestion.name != format.name {
                message += "; its lines look like \(suggestion.name): use --format \(suggestion.name)"
            } else {
                message += "; give the server's own format with --log-format (nginx log_format or Apache LogFormat), or --log-format-from its configuration"
            }
            analysis.inputs[index].error = InputError(path: input.name, offset: nil, message: message)
        }
    }
}

/// Finding the `#Fields:` lines of W3C logs as the reader hands on chunks.
enum W3CColumns {
    /// The text after `#Fields:` of the last such line in `bytes` (whole lines), if any.
    static func lastFieldsLine(in bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBytes { raw -> [UInt8]? in
            var found: [UInt8]?
            var start = 0
            while start < raw.count {
                // memchr: this runs over every chunk of a W3C input, in the reader.
                let base = raw.baseAddress!
                var lineEnd = raw.count
                if let newline = memchr(base + start, 0x0A, raw.count - start) {
                    lineEnd = UnsafeRawPointer(newline) - base
                }
                let line = ByteOrderMark.dropped(from: UnsafeRawBufferPointer(rebasing: raw[start..<lineEnd]))
                if line.first == 0x23, let columns = W3CParser.fieldsDirective(line) {
                    var text = Array(columns)
                    if text.last == 0x0D { text.removeLast() }
                    found = text
                }
                start = lineEnd + 1
            }
            return found
        }
    }
}

/// The country tables as they are built; each worker looks once per chunk.
private final class CountryTablesSlot: Sendable {
    private let slot = Mutex(CountryTables())
    private let abandoned = Atomic<Bool>(false)

    /// Set once the run no longer needs the tables.
    var isAbandoned: Bool {
        get { abandoned.load(ordering: .relaxed) }
        set { abandoned.store(newValue, ordering: .relaxed) }
    }

    var tables: CountryTables {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}

/// The detectors' events, written by the detecting thread before the group is waited on.
private final class AlertsBox: @unchecked Sendable {
    var events: [AlertEvent] = []
}

/// Calls `body` every `interval` seconds on a thread of its own until `stop()` (made and
/// stopped by one thread).
private final class SnapshotTicker {
    private let queue = DispatchQueue(label: "logsurge.snapshot", qos: .utility)
    private let timer: DispatchSourceTimer

    init(interval: Double, body: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = max(0.01, interval)
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(100))
        timer.setEventHandler(handler: body)
        timer.activate()
    }

    /// Stops the calls, and waits for one under way: none comes after this returns.
    func stop() {
        timer.cancel()
        queue.sync {}
    }
}

/// Hands out input indices in order to the reader threads.
private final class InputClaims: @unchecked Sendable {
    // Invariant: `next` is only touched under `lock`.
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.withLock {
            guard nextIndex < count else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }
}

/// The first lines of an input, from which `--format auto` decides its format.
enum FormatSample {
    /// The sample: the first 200 lines or the first 64 KiB, whichever is shorter.
    static let lines = 200
    static let bytes = 64 << 10

    static func isComplete(_ chunks: [LineChunk]) -> Bool {
        var bytes = 0, lines = 0
        for chunk in chunks {
            bytes += chunk.bytes.count
            lines += chunk.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            if bytes >= Self.bytes || lines >= Self.lines { return true }
        }
        return false
    }

    /// The format to read an input with, from its first chunks: the detected one, or
    /// `combined` (its lines then counted as malformed) when no line had a known format.
    static func decide(_ chunks: [LineChunk]) -> (LineFormat, InputReport.FormatChoice) {
        detect(chunks).map { ($0, .detected) } ?? (LineFormat(.combined), .assumed)
    }

    /// The format of the first `lines` lines (at most `bytes` bytes) of `chunks`.
    static func detect(_ chunks: [LineChunk]) -> LineFormat? {
        sample(chunks).withUnsafeBytes { LineFormat.detect(chunk: $0, maxLines: lines) }
    }

    /// A named format the first lines of `chunks` parse under, when none of them parses as
    /// `format` (nil when some do, or none fits).
    static func suggestion(_ chunks: [LineChunk], readAs format: LineFormat) -> LineFormat? {
        sample(chunks).withUnsafeBytes { raw -> LineFormat? in
            let lines = LineFormat.lines(of: raw, maxLines: Self.lines)
            var parser = format.parser()
            for line in lines {
                if case .parsed = parser.parse(line) { return nil }
            }
            return LineFormat.detect(lines)
        }
    }

    private static func sample(_ chunks: [LineChunk]) -> [UInt8] {
        var sample: [UInt8] = []
        for chunk in chunks where sample.count < bytes { sample += chunk.bytes.prefix(bytes - sample.count) }
        return sample
    }

    /// Reading an input again from its start up to `skip` bytes (decompressed): its head (when
    /// wanted, for the format) and the last W3C `#Fields:` before `skip`.
    static func prelude(of source: InputSource, pinned: Int32?, reader: InputReader, upTo skip: Int64,
                        wantsHead: Bool) -> (head: [LineChunk]?, columns: [UInt8]?) {
        struct Enough: Error {}
        var head: [LineChunk] = []
        var columns: [UInt8]?
        var consumed: Int64 = 0
        var reader = reader
        reader.pool = nil
        _ = try? reader.read(source, pinned: pinned) { chunk in
            if wantsHead, !isComplete(head) { head.append(chunk) }
            if consumed < skip {
                // Whole lines before the resumption point; a chunk may reach past it.
                let before = Int(min(Int64(chunk.bytes.count), skip - consumed))
                let lineEnd = chunk.bytes[..<before].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
                if let last = W3CColumns.lastFieldsLine(in: Array(chunk.bytes[..<lineEnd])) { columns = last }
                consumed += Int64(chunk.bytes.count)
            }
            if consumed >= skip, !wantsHead || isComplete(head) { throw Enough() }
        }
        return (wantsHead ? head : nil, columns)
    }
}

/// A FIFO of work items; `pop` blocks until an item (or the end marker `nil`) arrives.
private final class WorkQueue: @unchecked Sendable {
    // Invariant: `items` is only touched under `lock`; `available` counts its elements.
    private let lock = NSLock()
    private let available = DispatchSemaphore(value: 0)
    private var items: [WorkItem?] = []
    private var head = 0

    func push(_ item: WorkItem?) {
        lock.withLock { items.append(item) }
        available.signal()
    }

    func pop() -> WorkItem? {
        available.wait()
        return lock.withLock {
            let item = items[head]
            items[head] = nil
            head += 1
            if head > 64, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }
}

/// What has been merged of one input: its own buckets and accounting until it is folded
/// into the run, in input order, so the result does not depend on which input finished first.
///
/// The counts (`merged`) are a class of their own: the one thread draining the input's results
/// merges into them outside the merger's lock (see `OrderedMerger.submit`), while the lock
/// guards the rest.
private struct InputTally {
    var counts: MergedCounts
    /// Results merged, and (once its reader is done) how many there will be.
    var merged = 0
    var expected: Int?
    var pending: [Int: ChunkResult] = [:]
    /// Whether a thread is draining this input's results right now.
    var draining = false

    var isComplete: Bool { expected == merged && !draining }

    init(bucketsInMemory: Int) {
        counts = MergedCounts(bucketsInMemory: bucketsInMemory)
    }
}

/// The buckets and accounting merged of one input so far.
private final class MergedCounts: @unchecked Sendable {
    // Invariant: touched only by the thread draining the input (its `draining` flag set under
    // the merger's lock), or under the lock when no thread is.
    var buckets: MinuteBuckets
    var accounting = RunAccounting()
    /// Lines merged so far (directive lines too): samples are numbered by their line in the input.
    var lines: UInt64 = 0
    /// Of those, the log lines (not directives) and the parsed ones.
    var logLines: UInt64 = 0
    var parsed: UInt64 = 0
    var malformed = [UInt64](repeating: 0, count: MalformedReason.allCases.count)
    /// Bytes read by workers from byte ranges of a plain file.
    var rangeBytes: Int64 = 0
    /// Of those ranges, where the last line read ends, and the bytes held back.
    var linesEnd: Int64 = 0
    var heldBack: Int64 = 0
    /// A range that could not be read: nothing after it counts, as when a stream breaks.
    var readError: InputError?

    init(bucketsInMemory: Int) {
        buckets = MinuteBuckets(spillThreshold: bucketsInMemory)
    }
}

/// Merges each input's results in sequence order, folds inputs into the run in input order,
/// and bounds the work items in flight.
private final class OrderedMerger: @unchecked Sendable {
    // Invariant: everything below `slots` is only touched under `lock`.
    private let lock = NSLock()
    private let slots: DispatchSemaphore
    private let inputMayStart = NSCondition()
    private var inFlight = 0
    private var readingNow = 0
    private var state = Analysis()
    /// The run's buckets and accounting: kept apart from `state` so both can be merged into at once.
    private var runBuckets: MinuteBuckets
    private var runAccounting = RunAccounting()
    private var tallies: [InputTally]
    /// Inputs before this one are folded into `state`.
    private var folded = 0
    private var foldedForReaders = 0  // `folded`, read under `inputMayStart`

    private let detection: StreamingDetection?


    init(threads: Int, bucketsInMemory: Int, window: Int, detection: StreamingDetection?, inputs: [InputReport]) {
        self.detection = detection
        slots = DispatchSemaphore(value: 2 * threads + 2)
        state.inputs = inputs
        runBuckets = MinuteBuckets(spillThreshold: bucketsInMemory)
        // The inputs held apart share the run's allowance of buckets in memory.
        tallies = inputs.indices.map { _ in InputTally(bucketsInMemory: max(1, bucketsInMemory / (window + 1))) }
        // Inputs that could not even be opened are complete already.
        for index in inputs.indices where inputs[index].error != nil { tallies[index].expected = 0 }
        _ = lock.withLock { foldCompleteInputs() }
    }

    /// Waits until fewer than the allowed number of items are in flight.
    func reserveSlot() {
        slots.wait()
        lock.withLock {
            inFlight += 1
            state.chunks += 1
            state.peakChunksInFlight = max(state.peakChunksInFlight, inFlight)
        }
    }

    /// Waits until input `index` is among the `window` inputs after the last folded one, so
    /// that at most `window` inputs are held apart at once.
    func waitUntilInputMayStart(_ index: Int, window: Int) {
        inputMayStart.lock()
        while index >= foldedForReaders + window { inputMayStart.wait() }
        inputMayStart.unlock()
        lock.withLock {
            readingNow += 1
            state.peakInputsReadAtOnce = max(state.peakInputsReadAtOnce, readingNow)
        }
    }

    /// Takes a worker's result; merges it and any that were waiting for it, in sequence order.
    ///
    /// Merging (and spilling buckets to disk) takes milliseconds: a run that decides minutes as
    /// it goes does it under the lock, in order with the detectors; otherwise the first thread to
    /// find an input's next results ready drains them outside the lock, and a worker that comes
    /// meanwhile leaves its result for that thread and goes back to parsing instead of waiting.
    func submit(_ result: ChunkResult) {
        let input = result.input
        if detection != nil {
            let folded = lock.withLock {
                tallies[input].pending[result.sequence] = result
                let ready = takeReady(input)
                for next in ready { merge(next, into: tallies[input].counts, name: state.inputs[input].name) }
                recordMerged(ready.count, of: input)
                return foldCompleteInputs()
            }
            if folded { logsurge_release_free_memory() }
            return
        }
        guard let (first, counts, name) = lock.withLock({ () -> ([ChunkResult], MergedCounts, String)? in
            tallies[input].pending[result.sequence] = result
            guard !tallies[input].draining else { return nil }
            let ready = takeReady(input)
            guard !ready.isEmpty else { return nil }
            tallies[input].draining = true
            return (ready, tallies[input].counts, state.inputs[input].name)
        }) else { return }
        var batch = first
        while true {
            for ready in batch { merge(ready, into: counts, name: name) }
            let (next, folded) = lock.withLock { () -> ([ChunkResult], Bool) in
                recordMerged(batch.count, of: input)
                let next = takeReady(input)
                guard next.isEmpty else { return (next, false) }
                tallies[input].draining = false
                return ([], foldCompleteInputs())
            }
            guard next.isEmpty else {
                batch = next
                continue
            }
            // A folded input's tally and buffers are free now: give the memory back.
            if folded { logsurge_release_free_memory() }
            return
        }
    }

    /// Counts `count` more results of `input` as merged (under the lock): their slots are
    /// free, and the input's lines and read error are as merged so far.
    private func recordMerged(_ count: Int, of input: Int) {
        tallies[input].merged += count
        inFlight -= count
        for _ in 0..<count { slots.signal() }
        state.inputs[input].lines = tallies[input].counts.logLines
        state.inputs[input].parsed = tallies[input].counts.parsed
        state.inputs[input].malformed = tallies[input].counts.malformed
        if let error = tallies[input].counts.readError { state.inputs[input].error = error }
    }

    /// The results of `input` that are next in its order, taken out of `pending` (under the lock).
    private func takeReady(_ input: Int) -> [ChunkResult] {
        var ready: [ChunkResult] = []
        while let next = tallies[input].pending.removeValue(forKey: tallies[input].merged + ready.count) {
            ready.append(next)
        }
        return ready
    }

    private func merge(_ result: ChunkResult, into counts: MergedCounts, name: String) {
        // After a read error, as when a stream breaks, nothing further of that input counts.
        if counts.readError != nil { return }
        counts.rangeBytes += result.rangeBytes
        counts.linesEnd = max(counts.linesEnd, result.linesEnd ?? 0)
        counts.heldBack += result.heldBack
        if let error = result.readError {
            counts.readError = error
            counts.rangeBytes = error.offset ?? counts.rangeBytes
        }
        // A stream read as it goes (one input at a time) merges straight into the run.
        if detection != nil {
            mergeCounts(result, of: (name, counts.lines), buckets: &runBuckets, accounting: &runAccounting)
        } else {
            mergeCounts(result, of: (name, counts.lines), buckets: &counts.buckets, accounting: &counts.accounting)
        }
        counts.lines += result.lines + result.directives
        counts.logLines += result.lines
        counts.parsed += result.parsed
        for index in result.malformed.indices { counts.malformed[index] += result.malformed[index] }
    }

    private func mergeCounts(_ result: ChunkResult, of input: (name: String, linesBefore: UInt64),
                             buckets: inout MinuteBuckets, accounting: inout RunAccounting) {
        for part in result.tallies {
            buckets.merge(part.entries, localSites: part.siteNames)
            guard let detection else { continue }
            for (key, counts) in part.entries {
                detection.add(minute: key.minute, site: buckets.mergedName(of: part.siteNames[Int(key.site)]),
                              country: key.country, counts: counts)
            }
        }
        detection?.advance()
        var counted = RunAccounting()
        counted.lines = result.lines
        counted.parsed = result.parsed
        for (index, count) in result.malformed.enumerated() where count > 0 {
            counted.malformed[MalformedReason.allCases[index], default: 0] += count
        }
        counted.samples = result.samples.map { sample in
            MalformedSample(reason: sample.reason, input: input.name, line: input.linesBefore + sample.line, bytes: sample.bytes)
        }
        counted.geoLookupErrors = result.geoLookupErrors
        counted.clients = result.clients
        counted.directives = result.directives
        accounting.absorb(counted)
    }

    /// Folds every complete input, in input order, into the run; whether any was folded.
    @discardableResult
    private func foldCompleteInputs() -> Bool {
        let before = folded
        while folded < tallies.count, tallies[folded].isComplete {
            let tally = tallies[folded].counts
            tallies[folded] = InputTally(bucketsInMemory: 1)
            runBuckets.merge(inOrder: tally.buckets)
            runAccounting.absorb(tally.accounting)
            if tally.rangeBytes != 0 {
                state.inputs[folded].stats?.bytesRead += tally.rangeBytes
                state.inputs[folded].stats?.decompressedBytes += tally.rangeBytes
            }
            if let linesEnd = state.inputs[folded].stats?.linesEnd, tally.linesEnd > linesEnd {
                state.inputs[folded].stats?.linesEnd = tally.linesEnd
            }
            state.inputs[folded].stats?.heldBack += tally.heldBack
            folded += 1
        }
        guard folded != before else { return false }
        inputMayStart.lock()
        foldedForReaders = folded
        inputMayStart.broadcast()
        inputMayStart.unlock()
        return true
    }

    /// Records what the reader of input `index` found, once it has handed out all `items`.
    func finishInput(_ index: Int, items: Int, stats: InputStats, format: LineFormat?, choice: InputReport.FormatChoice,
                     suggestion: LineFormat?, error: InputError?) {
        lock.withLock {
            state.inputs[index].stats = stats
            state.inputs[index].format = format.map { $0.withFieldsLine(nil) }
            state.inputs[index].formatChoice = choice
            state.inputs[index].suggestion = suggestion
            state.inputs[index].error = state.inputs[index].error ?? error
            tallies[index].expected = items
            readingNow -= 1
            foldCompleteInputs()
        }
    }

    /// The run's totals so far: one pass over the buckets in memory, under the lock, so a
    /// snapshot every minute costs the merging thread a few milliseconds and the workers nothing.
    /// (Inputs read side by side count once folded; a stream merges chunk by chunk.)
    func snapshot() -> MetricsSnapshot {
        lock.withLock { MetricsSnapshot(buckets: runBuckets, accounting: runAccounting, alerts: detection?.events ?? []) }
    }

    /// Ends detection and returns the merged result; call after every worker has finished.
    func finish(threads: Int) -> Analysis {
        lock.withLock {
            precondition(folded == tallies.count, "an input was not merged completely")
            detection?.finish()
            var result = state
            result.buckets = runBuckets
            result.accounting = runAccounting
            result.threads = threads
            result.alerts = detection?.events ?? []
            result.lateLines = detection?.lateLines ?? 0
            result.trace = detection?.trace
            return result
        }
    }
}
