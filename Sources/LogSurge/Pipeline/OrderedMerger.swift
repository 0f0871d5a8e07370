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

/// What has been merged of one input: its own buckets and accounting until it is folded
/// into the run, in input order, so the result does not depend on which input finished first.
///
/// The counts (`merged`) are a class of their own: the one thread draining the input's results
/// merges into them outside the merger's lock (see `OrderedMerger.submit`), while the lock
/// guards the rest.
struct InputTally {
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
final class MergedCounts: @unchecked Sendable {
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
final class OrderedMerger: @unchecked Sendable {
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

    private let detection: DetectionRun?
    /// When a result last brought lines (a stream decided as it goes).
    private var lastLinesAt = ContinuousClock.now

    init(threads: Int, bucketsInMemory: Int, window: Int, detection: DetectionRun?, inputs: [InputReport]) {
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
                if result.lines > 0 { lastLinesAt = .now }
                tallies[input].pending[result.sequence] = result
                let ready = takeReady(input)
                for next in ready { merge(next, into: tallies[input].counts, name: state.inputs[input].name) }
                recordMerged(ready.count, of: input)
                return foldCompleteInputs()
            }
            if folded { logsurge_release_free_memory() }
            return
        }
        guard
            let (first, counts, name) = lock.withLock({ () -> ([ChunkResult], MergedCounts, String)? in
                tallies[input].pending[result.sequence] = result
                guard !tallies[input].draining else { return nil }
                let ready = takeReady(input)
                guard !ready.isEmpty else { return nil }
                tallies[input].draining = true
                return (ready, tallies[input].counts, state.inputs[input].name)
            })
        else { return }
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

    private func mergeCounts(
        _ result: ChunkResult, of input: (name: String, linesBefore: UInt64),
        buckets: inout MinuteBuckets, accounting: inout RunAccounting
    ) {
        for part in result.tallies {
            buckets.merge(part.entries, clients: part.clients, localSites: part.siteNames)
            guard let detection else { continue }
            for (offset, (key, counts)) in part.entries.enumerated() {
                detection.add(
                    minute: key.minute, site: buckets.mergedName(of: part.siteNames[Int(key.site)]),
                    country: key.country, counts: counts, clients: part.clients[offset])
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
    func finishInput(
        _ index: Int, items: Int, stats: InputStats, format: LineFormat?, choice: InputReport.FormatChoice,
        suggestion: LineFormat?, error: InputError?
    ) {
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

    /// A stream gone quiet (`AnalyzeConfiguration.idleFlush`): once `after` seconds of
    /// wall-clock time have passed since a result last brought lines, the quiet decides its pending
    /// minutes. Then every pending minute is decided, and each further minute of quiet one more
    /// minute of log time (without a line), so that an alert the last lines hold is raised and
    /// a log that stopped is a drop.
    func idle(after: Double) {
        lock.withLock {
            let quiet = (ContinuousClock.now - lastLinesAt).inSeconds
            // Quiet means nothing read for that long and nothing read still being parsed (on a
            // busy machine a chunk read before the pause can take longer than a short flush).
            guard let detection, quiet >= after, inFlight == 0, let newest = detection.newestMinute else { return }
            detection.idle(through: Self.idleLimit(newest: newest, quiet: quiet, after: after, now: Date().timeIntervalSince1970))
        }
    }

    /// The last minute to decide after `quiet` seconds without a line (at least `after`), at
    /// `now` (seconds since 1970), the newest minute read being `newest`. A live log (its newest
    /// minute within 5 of the clock when its last lines came) that goes quiet has its quiet
    /// minutes decided as minutes without a line: a fall to nothing is a drop. Old lines through
    /// a pipe that pauses (a slow `ssh … zcat`) have only their pending minutes decided: a pause
    /// of the reader is no outage of the log.
    static func idleLimit(newest: Int32, quiet: Double, after: Double, now: Double) -> Int32 {
        let lastLinesMinute = ((now - quiet) / 60).rounded(.down)
        guard abs(lastLinesMinute - Double(newest)) <= 5 else { return newest }
        return Int32(clamping: Int(newest) + Int(min(Double(Int32.max), ((quiet - after) / 60).rounded(.down))))
    }

    /// The run's totals so far: one pass over the buckets in memory, under the lock, so a
    /// snapshot every minute costs the merging thread a few milliseconds and the workers nothing.
    /// (Inputs read side by side count once folded; a stream merges chunk by chunk.)
    func snapshot() -> MetricsSnapshot {
        lock.withLock { MetricsSnapshot(buckets: runBuckets, accounting: runAccounting, alerts: detection?.events ?? []) }
    }

    /// Calls `body` with the run so far (buckets, accounting, inputs, alerts, and the charts in a
    /// finished copy), under the lock: the buckets may not be kept past the call.
    func withRunSoFar<T>(_ body: (Analysis) -> T) -> T {
        lock.withLock {
            var result = state
            result.buckets = runBuckets
            result.accounting = runAccounting
            result.alerts = detection?.events ?? []
            result.trace = detection?.traceSoFar()
            return body(result)
        }
    }

    /// Ends detection and returns the merged result; call after every worker has finished.
    func finish(threads: Int) -> Analysis {
        lock.withLock {
            precondition(folded == tallies.count, "an input was not merged completely")
            let outcome = detection?.finish()
            var result = state
            result.buckets = runBuckets
            result.accounting = runAccounting
            result.threads = threads
            result.alerts = outcome?.events ?? []
            result.lateLines = outcome?.lateLines ?? 0
            result.trace = outcome?.trace
            return result
        }
    }
}
