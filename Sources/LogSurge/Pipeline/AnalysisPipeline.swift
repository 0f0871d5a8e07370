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
        let (sources, readOnce) =
            configuration.follow != nil
            ? ([.success(.followed(paths))], [])
            : Self.readingOnce(
                configuration.resume.sources
                    ?? Self.leavingOut(configuration.reading.ownFiles, from: InputDiscovery.expand(paths.isEmpty ? ["-"] : paths)),
                copies: configuration.resume.copies)
        let threads = AnalyzeConfiguration.workers(for: configuration.reading.threads)
        // Deciding minutes as the stream goes only when asked to (a pipe); otherwise the
        // detectors run over the finished buckets, which needs no per-minute state until then.
        let onAlert = configuration.onAlert ?? { _ in }
        let detection = configuration.detection.flatMap { policy in policy.lateness == nil ? nil : DetectionRun(policy, onEvent: onAlert) }
        // Several inputs are read at once (so N archives inflate on N cores), each merged apart
        // and folded into the run in input order; at most 4, as each holds a reader's buffers
        // and a tally. A stream that alerts as it goes is one input at a time, merged chunk by chunk.
        let window = detection == nil ? min(threads, max(1, sources.count), Self.maximumInputsAtOnce) : 1
        let merger = OrderedMerger(
            threads: threads, bucketsInMemory: configuration.reading.bucketsInMemory, window: window,
            detection: detection,
            inputs: sources.map { result -> InputReport in
                switch result {
                case .success(let source): InputReport(name: source.displayName)
                case .failure(let error): InputReport(name: error.path, error: error)
                }
            })
        // A run that goes on (a followed log) hands out its totals so far every minute or so.
        // A stream that goes quiet has its pending minutes decided after `idleFlush` seconds.
        let idleTicker = detection.map { _ in
            let after = configuration.idleFlush
            return SnapshotTicker(interval: min(1, max(0.05, after / 4))) { merger.idle(after: after) }
        }
        let ticker = configuration.snapshots.map { snapshots in
            // At once too: a scraper sees the run from its start, not a minute later.
            SnapshotTicker(interval: snapshots.interval, atStart: true) { snapshots.body(merger.snapshot()) }
        }
        let pageTicker = configuration.runSoFar.map { runSoFar in
            // What the body returns (writing the page out) runs after the merging goes on.
            SnapshotTicker(interval: runSoFar.interval, atStart: true) { merger.withRunSoFar(runSoFar.body)() }
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
            var reader = InputReader(
                targetChunkSize: configuration.reading.chunkSize, maxLineLength: configuration.lines.maxLineLength,
                inflater: configuration.reading.inflater)
            reader.pool = pool
            reader.stop = configuration.stop
            if let follow = configuration.follow {
                reader.followPollInterval = follow.pollInterval
                reader.followRotateWait = follow.rotateWait
            }
            reader.holdsBackUnterminatedLine = configuration.resume.holdsBackUnterminatedLines
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
        pageTicker?.stop()
        idleTicker?.stop()
        var analysis = merger.finish(threads: threads)
        analysis.inputsReadOnce = readOnce
        analysis.inflater = reader.inflater
        Self.reportInputsWithoutRequests(&analysis)
        analysis.warnings = RunWarning.evaluate(analysis, configuration: configuration)
        guard detection == nil, let policy = configuration.detection else {
            try work(analysis)
            return analysis
        }
        let outcome = OutcomeBox()
        let detecting = DispatchGroup()
        let buckets = analysis.buckets
        DispatchQueue(label: "logsurge.detect", qos: .userInitiated).async(group: detecting) {
            outcome.value = DetectionRun(policy, onEvent: onAlert).run(buckets)
        }
        defer { detecting.wait() }
        try work(analysis)
        detecting.wait()
        analysis.alerts = outcome.value?.events ?? []
        analysis.trace = outcome.value?.trace
        analysis.sitesByStep = outcome.value?.sitesByStep ?? []
        return analysis
    }
}

extension AnalysisPipeline {
    /// `sources` with each file once: a later name of a file named before (the same device
    /// and inode: `logs/` and `logs/access.log`, a symlink, `./access.log`) is left out, and
    /// so is a path of `copies` (a copy of another input's content, by path: `--state` knows
    /// them); what was left out, and the input read instead.
    static func readingOnce(
        _ sources: [Result<InputSource, InputError>], copies: [PathKey: String]
    )
        -> ([Result<InputSource, InputError>], [(path: String, readAs: String, sameFile: Bool)])
    {
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
        if case .fixed(let fixed) = configuration.lines.format { format = fixed }
        var sequence = 0
        func dispatch(_ payload: WorkItem.Payload, as format: LineFormat) {
            merger.reserveSlot()
            queue.push(WorkItem(sequence: sequence, input: index, format: format, payload: payload))
            sequence += 1
        }
        if case .file(let path) = source, configuration.resume.resumeAt[PathKey(path)] == AnalyzeConfiguration.Resume.readBefore {
            // Read completely by an earlier run and unchanged since: not opened at all.
            let stats = InputStats(heldBack: configuration.resume.heldBackBefore[PathKey(path)] ?? 0)
            merger.finishInput(index, items: 0, stats: stats, format: format, choice: choice, suggestion: nil, error: nil)
            return
        }
        var skip: Int64 = 0
        var pinned: Int32?
        if case .file(let path) = source {
            skip = max(0, configuration.resume.resumeAt[PathKey(path)] ?? 0)
            pinned = configuration.resume.pinnedFiles[PathKey(path)]
        }
        let holdsBack = configuration.resume.holdsBackUnterminatedLines
        // The format is decided from the input's head, also when an earlier run read part of it.
        var head: [LineChunk]?
        if case .file(let path) = source,
            let file = pinned.map({ PlainFile(duplicating: $0, path: path, holdingBackUnterminatedLine: holdsBack) })
                ?? PlainFile(path: path, holdingBackUnterminatedLine: holdsBack)
        {
            head = file.leadingChunks(maxLineLength: configuration.lines.maxLineLength, until: FormatSample.isComplete)
            if format == nil { (format, choice) = FormatSample.decide(head!) }
            if let format, !format.isW3C {
                // A plain regular file: the workers read their own byte ranges of it.
                suggestion = FormatSample.suggestion(head!, readAs: format)
                let step = Int64(max(1, configuration.reading.chunkSize, configuration.reading.minimumRangeSize))
                // What an earlier run read is passed over (a range's first line is the first that starts in it).
                for start in stride(from: min(skip, file.size), to: file.size, by: Int(step)) {
                    dispatch(.range(file, start..<min(start + step, file.size)), as: format)
                }
                var stats = InputStats(compression: .none)
                stats.linesEnd = skip
                merger.finishInput(
                    index, items: sequence, stats: stats, format: format, choice: choice,
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
            let prelude = FormatSample.prelude(
                of: source, pinned: pinned, reader: reader, upTo: skip,
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
            if let sample = analysis.accounting.samples.filter({ $0.input == input.name && $0.reason != .empty }).min(by: {
                $0.line < $1.line
            }) {
                let shown = sample.bytes.prefix(100)
                message += "; line \(sample.line) reads \"\(Escaping.terminal(shown))\(sample.bytes.count > shown.count ? "…" : "")\""
            }
            if let suggestion = input.suggestion, suggestion.name != format.name {
                message += "; its lines look like \(suggestion.name): use --format \(suggestion.name)"
            } else {
                message +=
                    "; give the server's own format with --log-format (nginx log_format or Apache LogFormat), or --log-format-from its configuration"
            }
            analysis.inputs[index].error = InputError(path: input.name, offset: nil, message: message)
        }
    }
}

/// The detectors' events, written by the detecting thread before the group is waited on.
private final class OutcomeBox: @unchecked Sendable {
    var value: DetectionRun.Outcome?
}
