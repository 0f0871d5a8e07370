import Dispatch
import Foundation
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse

/// What one input contributed to a run.
public struct InputReport: Sendable {
    /// The input as named on the command line (`-` for standard input).
    public var name: String
    public var stats: InputStats?
    /// The format its lines were parsed with; nil when no byte of it was read.
    public var format: LogFormat?
    /// How `format` was chosen.
    public var formatChoice: FormatChoice = .option

    /// How an input's format was chosen.
    public enum FormatChoice: String, Sendable {
        /// Given by `--format`.
        case option
        /// Decided from the input's first lines.
        case detected
        /// No line of the first chunk had a known format: read as `combined`, lines counted as malformed.
        case assumed
    }
    /// Lines read from this input (parsed or malformed).
    public var lines: UInt64 = 0
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
    /// Lines of minutes the detectors had already decided when they arrived (see
    /// `AnalyzeConfiguration.detectionLateness`); counted in the buckets all the same.
    public var lateLines: UInt64 = 0
    /// Chunks handed to workers.
    public var chunks: Int = 0
    /// The most chunks that were ever in flight at once (queued, parsing, or waiting to merge);
    /// never more than `2 × threads + 2`, however fast the reader is.
    public var peakChunksInFlight: Int = 0

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

    /// Reads `paths` (files, directories, `-`) as one stream of events.
    public func run(paths: [String]) -> Analysis {
        let sources = InputDiscovery.expand(paths.isEmpty ? ["-"] : paths)
        let threads = max(1, configuration.threads)
        // Deciding minutes as the stream goes only when asked to (a pipe); otherwise the
        // detectors run over the finished buckets, which needs no per-minute state until then.
        let detection = configuration.detectionLateness.map { lateness in
            StreamingDetection(configuration: configuration.detection, lateness: lateness, onEvent: configuration.onAlert ?? { _ in })
        }
        let merger = OrderedMerger(threads: threads, detection: detection, inputs: sources.map { result -> InputReport in
            switch result {
            case .success(let source): InputReport(name: source.displayName)
            case .failure(let error): InputReport(name: error.path, error: error)
            }
        })
        let queue = WorkQueue()
        let group = DispatchGroup()
        // Built once and shared read-only: IPv4 countries without walking the tree per client.
        let ipv4Table = IPv4CountryTable(reader: configuration.database)
        for worker in 0..<threads {
            let configuration = configuration
            DispatchQueue(label: "logsurge.parse.\(worker)", qos: .userInitiated).async(group: group) {
                var processor = ChunkProcessor(configuration: configuration, ipv4Table: ipv4Table)
                while let item = queue.pop() {
                    merger.submit(processor.process(item))
                }
            }
        }

        let reader = InputReader(targetChunkSize: configuration.chunkSize, maxLineLength: configuration.maxLineLength,
                                 inflater: configuration.inflater)
        var sequence = 0
        for (index, result) in sources.enumerated() {
            guard case .success(let source) = result else { continue }
            var format: LogFormat?
            var choice = InputReport.FormatChoice.option
            if case .fixed(let fixed) = configuration.format { format = fixed }
            // With --format auto, chunks are held back until the detection sample is complete,
            // so the format (and so the output) does not depend on the chunk size.
            var held: [LineChunk] = []
            func dispatch(_ payload: WorkItem.Payload, as format: LogFormat) {
                merger.reserveSlot()
                queue.push(WorkItem(sequence: sequence, input: index, format: format, payload: payload))
                sequence += 1
            }
            if case .file(let path) = source, let file = PlainFile(path: path) {
                // A plain regular file: the workers read their own byte ranges of it.
                if format == nil {
                    let sample = file.leadingChunks(maxLineLength: configuration.maxLineLength, until: FormatSample.isComplete)
                    let detected = FormatSample.detect(sample)
                    format = detected ?? .combined
                    choice = detected == nil ? .assumed : .detected
                }
                let step = Int64(max(1, configuration.chunkSize, configuration.minimumRangeSize))
                for start in stride(from: Int64(0), to: file.size, by: Int(step)) {
                    dispatch(.range(file, start..<min(start + step, file.size)), as: format!)
                }
                merger.finishInput(index, stats: InputStats(compression: .none), format: format, choice: choice, error: nil)
                continue
            }
            func decide() {
                let detected = FormatSample.detect(held)
                format = detected ?? .combined
                choice = detected == nil ? .assumed : .detected
                for chunk in held { dispatch(.chunk(chunk), as: format!) }
                held = []
            }
            let (stats, error) = reader.read(source) { chunk in
                if let format {
                    dispatch(.chunk(chunk), as: format)
                } else {
                    held.append(chunk)
                    if FormatSample.isComplete(held) { decide() }
                }
            }
            if format == nil, !held.isEmpty { decide() }
            merger.finishInput(index, stats: stats, format: format, choice: choice, error: error)
        }
        for _ in 0..<threads { queue.push(nil) }
        group.wait()
        var analysis = merger.finish(threads: threads)
        analysis.inflater = reader.inflater
        if detection == nil {
            analysis.alerts = Detection.run(analysis.buckets, configuration: configuration.detection,
                                            onEvent: configuration.onAlert ?? { _ in })
        }
        return analysis
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

    /// The format of the first `lines` lines (at most `bytes` bytes) of `chunks`.
    static func detect(_ chunks: [LineChunk]) -> LogFormat? {
        var sample: [UInt8] = []
        for chunk in chunks where sample.count < bytes { sample += chunk.bytes.prefix(bytes - sample.count) }
        return sample.withUnsafeBytes { AccessLogParser.detectFormat(chunk: $0, maxLines: lines) }
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

/// Merges chunk results strictly in sequence order and bounds the chunks in flight.
private final class OrderedMerger: @unchecked Sendable {
    // Invariant: everything below `slots` is only touched under `lock`.
    private let lock = NSLock()
    private let slots: DispatchSemaphore
    private var inFlight = 0
    private var pending: [Int: ChunkResult] = [:]
    private var next = 0
    private var state = Analysis()
    private var linesPerInput: [UInt64]
    /// Bytes read by workers from byte ranges of plain files, per input.
    private var rangeBytesPerInput: [Int64]
    /// Inputs whose reading failed in a range: later ranges of them are not counted.
    private var failedInputs: Set<Int> = []

    private let detection: StreamingDetection?

    init(threads: Int, detection: StreamingDetection?, inputs: [InputReport]) {
        self.detection = detection
        slots = DispatchSemaphore(value: 2 * threads + 2)
        state.inputs = inputs
        linesPerInput = Array(repeating: 0, count: inputs.count)
        rangeBytesPerInput = Array(repeating: 0, count: inputs.count)
    }

    /// Waits until fewer than the allowed number of chunks are in flight.
    func reserveSlot() {
        slots.wait()
        lock.withLock {
            inFlight += 1
            state.chunks += 1
            state.peakChunksInFlight = max(state.peakChunksInFlight, inFlight)
        }
    }

    func submit(_ result: ChunkResult) {
        lock.withLock {
            pending[result.sequence] = result
            while let ready = pending.removeValue(forKey: next) {
                merge(ready)
                next += 1
                inFlight -= 1
                slots.signal()
            }
        }
    }

    private func merge(_ result: ChunkResult) {
        // After a read error, as when a stream breaks, nothing further of that input counts.
        if failedInputs.contains(result.input) { return }
        rangeBytesPerInput[result.input] += result.rangeBytes
        if let error = result.readError {
            failedInputs.insert(result.input)
            state.inputs[result.input].error = error
            rangeBytesPerInput[result.input] = error.offset ?? rangeBytesPerInput[result.input]
        }
        for tally in result.tallies {
            state.buckets.merge(tally.entries, localSites: tally.siteNames)
            guard let detection else { continue }
            for (key, counts) in tally.entries {
                detection.add(minute: key.minute, site: state.buckets.mergedName(of: tally.siteNames[Int(key.site)]),
                              country: key.country, counts: counts)
            }
        }
        detection?.advance()
        state.accounting.lines += result.lines
        state.accounting.parsed += result.parsed
        for (index, count) in result.malformed.enumerated() where count > 0 {
            state.accounting.malformed[MalformedReason.allCases[index], default: 0] += count
        }
        let base = linesPerInput[result.input]
        for sample in result.samples {
            state.accounting.addSample(MalformedSample(
                reason: sample.reason, input: state.inputs[result.input].name,
                line: base + sample.line, bytes: sample.bytes))
        }
        linesPerInput[result.input] += result.lines
        state.accounting.geoLookupErrors += result.geoLookupErrors
    }

    func finishInput(_ index: Int, stats: InputStats, format: LogFormat?, choice: InputReport.FormatChoice, error: InputError?) {
        lock.withLock {
            state.inputs[index].stats = stats
            state.inputs[index].format = format
            state.inputs[index].formatChoice = choice
            state.inputs[index].error = state.inputs[index].error ?? error
        }
    }

    /// Ends detection and returns the merged result; call after every worker has finished.
    func finish(threads: Int) -> Analysis {
        lock.withLock {
            detection?.finish()
            var result = state
            for index in result.inputs.indices {
                result.inputs[index].lines = linesPerInput[index]
                result.inputs[index].stats?.bytesRead += rangeBytesPerInput[index]
                result.inputs[index].stats?.decompressedBytes += rangeBytesPerInput[index]
            }
            result.threads = threads
            result.alerts = detection?.events ?? []
            result.lateLines = detection?.lateLines ?? 0
            return result
        }
    }
}
