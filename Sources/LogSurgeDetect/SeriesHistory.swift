/// The recent past of one count series, step by step, with the baseline each step was given.
///
/// Steps inside an alert episode are marked so that baselines learn from normal traffic only.
/// Two rings, allocated as they fill (a site seen for a few minutes costs a few bytes):
///
/// - the long one, `capacity` steps (7 days and the daily window), keeps for each step the running
///   totals of the normal steps' counts and of their number. That is all the daily baselines
///   need: the sum over a window is a difference of two totals (exact: counts are whole
///   numbers, far below 2^53), not a loop, and 10 bytes a step;
/// - the short one, the last `recentCapacity` steps, keeps each step's count, baselines and
///   mark, which the level (240 steps back), the surge windows (60) and episodes (90) read.
///
/// With up to 100 sites and one watched country over a week or more, this is what detection
/// holds: 20 MB for the 200 series, where a ring of every value for 8 days took 30 MB.
///
/// Stored properties are `@exclusivity(unchecked)`, as are those of the engine's other per-site
/// classes: a series is stepped by one thread at a time, no access to one of them overlaps
/// another, and the run-time checks of it were a quarter of the detectors' time.
final class SeriesHistory {
    /// Steps whose values the short ring keeps by default: at least the 241 the level reads.
    static let recentCapacity = 256
    /// Steps whose values this series' short ring keeps (a power of two): `recentCapacity`,
    /// or 128 for a country checked by its share of the site (`--watch-country all`), which
    /// reads no level, only test windows (60) and an episode's picture (90).
    let recentCapacity: Int

    // The long ring, slot `(step - origin) % capacity`.
    @exclusivity(unchecked) private var normalCountsThrough: [Double] = []
    /// Normal steps through each step, modulo 2^16: a difference over the ring is exact.
    @exclusivity(unchecked) private var normalStepsThrough: [UInt16] = []
    /// The totals through the step before `firstStep` (the one last dropped from the ring).
    @exclusivity(unchecked) private var normalCountsBeforeFirst = 0.0
    @exclusivity(unchecked) private var normalStepsBeforeFirst: UInt16 = 0

    // The short ring, slot `(step - origin) % recentCapacity`.
    /// Counts as they are (a plain series' values may pass Float's 2^24), baselines as Float.
    @exclusivity(unchecked) private var counts: [Double] = []
    @exclusivity(unchecked) private var baselines: [Float] = []
    /// The baseline before the level adjustment (see `DetectionEngine`), to measure the level by.
    @exclusivity(unchecked) private var rawBaselines: [Float] = []
    @exclusivity(unchecked) private var excluded: [Bool] = []

    private let capacity: Int
    private let origin: Int
    /// What the series has shown of its noise (dispersion, weekly profile).
    @exclusivity(unchecked) var noise = SeriesNoise()
    /// The first step stored, and one past the last.
    @exclusivity(unchecked) private(set) var firstStep: Int
    @exclusivity(unchecked) private(set) var endStep: Int

    /// Changes to the steps stored (appended, marked): `windowSums` of a version is kept, as the
    /// detectors and the learning after them read the same sums at most steps.
    @exclusivity(unchecked) private var version = 0
    @exclusivity(unchecked) private var sumsMemo: (version: Int, sums: WindowSums)?
    /// The weekly level `DetectionEngine` found for a step (read before it is appended and after),
    /// until the weekly profile learns or a step is marked.
    @exclusivity(unchecked) var weeklyLevelMemo: (step: Int, level: Double?)?

    init(capacity: Int, startStep: Int, recentCapacity: Int = SeriesHistory.recentCapacity) {
        precondition(capacity < 1 << 16, "normal steps are counted modulo 2^16")
        precondition(recentCapacity.nonzeroBitCount == 1 && recentCapacity >= 64, "the short ring's slots are masked")
        self.capacity = capacity
        self.recentCapacity = recentCapacity
        origin = startStep
        firstStep = startStep
        endStep = startStep
    }

    var length: Int { endStep - firstStep }

    /// The first step whose values (count, baselines, mark) are kept.
    private var firstRecentStep: Int { max(firstStep, endStep - recentCapacity) }

    /// The long ring's slot of `endStep` (where the next step goes): `(endStep - origin) % capacity`,
    /// kept as steps are appended rather than divided for at every read.
    @exclusivity(unchecked) private var endSlot = 0

    /// The long ring's slot of `step`, one of the steps stored or `endStep`.
    private func slot(_ step: Int) -> Int {
        let slot = endSlot - (endStep - step)
        return slot >= 0 ? slot : slot + capacity
    }
    private func recentSlot(_ step: Int) -> Int { (step - origin) & (recentCapacity - 1) }

    /// Appends the next step.
    func append(_ count: Double, baseline: Double, raw: Double? = nil) {
        version &+= 1
        let stored = count
        let before =
            endStep > firstStep
            ? (normalCountsThrough[slot(endStep - 1)], normalStepsThrough[slot(endStep - 1)])
            : (normalCountsBeforeFirst, normalStepsBeforeFirst)
        if normalCountsThrough.count < capacity {
            if normalCountsThrough.count == normalCountsThrough.capacity {
                // Grown by doubling, but never past the ring's size (doubling alone would
                // end at the next power of two: 16,384 for 10,091 steps).
                let grown = min(capacity, max(64, 2 * normalCountsThrough.count))
                normalCountsThrough.reserveCapacity(grown)
                normalStepsThrough.reserveCapacity(grown)
            }
            normalCountsThrough.append(before.0 + Double(stored))
            normalStepsThrough.append(before.1 &+ 1)
        } else {
            // The slot of the step that leaves the ring: its totals become those before the first.
            let slot = self.slot(endStep)
            normalCountsBeforeFirst = normalCountsThrough[slot]
            normalStepsBeforeFirst = normalStepsThrough[slot]
            normalCountsThrough[slot] = before.0 + Double(stored)
            normalStepsThrough[slot] = before.1 &+ 1
        }
        if counts.count < recentCapacity {
            counts.append(stored)
            baselines.append(Float(baseline))
            rawBaselines.append(Float(raw ?? baseline))
            excluded.append(false)
        } else {
            let slot = recentSlot(endStep)
            counts[slot] = stored
            baselines[slot] = Float(baseline)
            rawBaselines[slot] = Float(raw ?? baseline)
            excluded[slot] = false
        }
        endStep += 1
        endSlot += 1
        if endSlot == capacity { endSlot = 0 }
        if endStep - firstStep > capacity { firstStep = endStep - capacity }
    }

    /// Marks the last step as inside an episode.
    func excludeLast() {
        guard endStep > firstStep else { return }
        let recent = recentSlot(endStep - 1), last = slot(endStep - 1)
        guard !excluded[recent] else { return }
        version &+= 1
        weeklyLevelMemo = nil
        excluded[recent] = true
        normalCountsThrough[last] -= Double(counts[recent])
        normalStepsThrough[last] &-= 1
    }

    /// The count of `step`, one of the last `recentCapacity` steps.
    func count(_ step: Int) -> Double { Double(counts[recentSlot(step)]) }
    /// The baseline of `step`, one of the last `recentCapacity` steps.
    func baseline(_ step: Int) -> Double { Double(baselines[recentSlot(step)]) }
    /// Whether `step`, one of the last `recentCapacity` steps, is inside an episode.
    func isExcluded(_ step: Int) -> Bool { excluded[recentSlot(step)] }

    /// Calls `body` with the short ring's slot of each step of `from..<to` (recent steps), in
    /// step order.
    @inline(__always)
    private func forEachRecentSlot(from: Int, to: Int, _ body: (Int) -> Void) {
        guard from < to else { return }
        var slot = recentSlot(from)
        for _ in from..<to {
            body(slot)
            slot = (slot + 1) & (recentCapacity - 1)
        }
    }

    /// Sums of counts and of unadjusted baselines over normal steps in `range` (clipped to the
    /// recent steps stored): how the series has run against its seasonal expectation lately.
    func level(over range: Range<Int>) -> (count: Double, expected: Double) {
        let from = max(range.lowerBound, firstRecentStep), to = min(range.upperBound, endStep)
        var expected = 0.0
        rawBaselines.withUnsafeBufferPointer { rawBaselines in
            excluded.withUnsafeBufferPointer { excluded in
                forEachRecentSlot(from: from, to: to) { slot in
                    if !excluded[slot] { expected += Double(rawBaselines[slot]) }
                }
            }
        }
        return (normalSum(from: from, to: to).sum, expected)
    }

    /// Sums of counts and baselines over the last `steps` steps (fewer if fewer are stored; at
    /// most `recentCapacity`), and how many of those steps were inside an episode.
    func recentSums(_ steps: Int) -> (count: Double, baseline: Double, steps: Int, excluded: Int) {
        var count = 0.0, baseline = 0.0, excludedSteps = 0
        let from = max(firstRecentStep, endStep - steps)
        forEachRecentSlot(from: from, to: endStep) { slot in
            count += Double(counts[slot])
            baseline += Double(baselines[slot])
            if excluded[slot] { excludedSteps += 1 }
        }
        return (count, baseline, endStep - from, excludedSteps)
    }

    /// Sum of the counts of the normal steps of `from..<to` (stored steps), and their number.
    private func normalSum(from: Int, to: Int) -> (sum: Double, used: Int) {
        guard from < to else { return (0, 0) }
        let last = slot(to - 1)
        let before =
            from > firstStep
            ? (normalCountsThrough[slot(from - 1)], normalStepsThrough[slot(from - 1)])
            : (normalCountsBeforeFirst, normalStepsBeforeFirst)
        return (normalCountsThrough[last] - before.0, Int(normalStepsThrough[last] &- before.1))
    }

    /// The expected count of `step` (not yet stored) from the past alone: `dailyExpected`, or
    /// without a day of history the mean of the last `recentSteps` normal steps (at least
    /// `minimumSteps` of them). Nil when there is too little history to say.
    func expected(at step: Int, stepsPerDay: Int, halfWindow: Int, recentSteps: Int, minimumSteps: Int) -> Double? {
        dailyExpected(at: step, stepsPerDay: stepsPerDay, halfWindow: halfWindow)
            ?? recentExpected(steps: recentSteps, minimumSteps: minimumSteps)
    }

    /// The expected count of `step` from earlier days: for each of up to 7 earlier days, the
    /// mean of the steps within `halfWindow` of the same time of day (normal steps only), then
    /// the median of those daily means, so one unusual day does not move it. Nil without a day
    /// of history.
    ///
    /// `weight(day)` divides the mean of `day` days back (a weekly factor: a Saturday's mean
    /// taken back to an ordinary day's, so that a holiday and a weekend together do not make
    /// the median), 1 by default.
    func dailyExpected(at step: Int, stepsPerDay: Int, halfWindow: Int, weight: (Int) -> Double = { _ in 1 }) -> Double? {
        guard stepsPerDay > 0, step - stepsPerDay - halfWindow >= firstStep else { return nil }
        return Self.medianOverDays { day in
            let centre = step - day * stepsPerDay
            guard centre - halfWindow >= firstStep else { return .stop }
            let (sum, used) = normalSum(from: centre - halfWindow, to: min(centre + halfWindow + 1, endStep))
            guard used * 2 > halfWindow * 2 + 1 else { return .skip }
            return .value(sum / Double(used) / weight(day))
        }
    }

    /// The median, over up to 7 earlier days, of the count of the same `window` steps ending at
    /// `step` on that day (only earlier days are read), days whose window was all normal steps: what
    /// those very minutes held, where `dailyExpected` smooths over `halfWindow` around them (a
    /// site whose traffic stops at midnight every night has a smoothed baseline above zero
    /// just after midnight, and held nothing then on the earlier days). Nil without such a day.
    func sameWindowEarlier(endingAt step: Int, window: Int, stepsPerDay: Int) -> Double? {
        guard stepsPerDay > 0 else { return nil }
        return Self.medianOverDays { day in
            let end = step - day * stepsPerDay + 1
            guard end - window >= firstStep else { return .stop }
            let (sum, used) = normalSum(from: end - window, to: end)
            return used == window ? .value(sum) : .skip
        }
    }

    /// What one earlier day gives a median over days.
    private enum DayValue {
        case value(Double)
        /// This day has too little of it; earlier ones may.
        case skip
        /// Neither this day nor any earlier one is stored.
        case stop
    }

    /// The median of `value(day)` for days 1 to 7 (nil when none gives one), sorted as they
    /// come into at most 7 slots on the stack: this runs for every series at every step.
    @inline(__always)
    private static func medianOverDays(_ value: (Int) -> DayValue) -> Double? {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 7) { sorted -> Double? in
            var found = 0
            days: for day in 1...7 {
                switch value(day) {
                case .stop: break days
                case .skip: continue
                case .value(let next):
                    var position = found
                    while position > 0, sorted[position - 1] > next {
                        sorted[position] = sorted[position - 1]
                        position -= 1
                    }
                    sorted[position] = next
                    found += 1
                }
            }
            guard found > 0 else { return nil }
            let middle = found / 2
            return found % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
    }

    /// The mean of the normal steps among the last `steps`, when there are at least
    /// `minimumSteps`; else among the last 2, 3 or 4 × `steps` (after an episode, whose steps are
    /// not normal, the baseline reaches back past it rather than going blind).
    func recentExpected(steps: Int, minimumSteps: Int) -> Double? {
        for span in 1...4 {
            let (sum, used) = normalSum(from: max(firstStep, endStep - span * steps), to: endStep)
            if used >= minimumSteps { return sum / Double(used) }
            if endStep - span * steps <= firstStep { break }
        }
        return nil
    }

    /// Sums over the test windows ending at the last step (`SeriesNoise.windows`: 1, 3, 10 and
    /// 60 steps, fewer where fewer are stored), in one pass.
    func windowSums() -> WindowSums {
        if let sumsMemo, sumsMemo.version == version { return sumsMemo.sums }
        var count = 0.0, baseline = 0.0, excludedSteps = 0, steps = 0
        var step = endStep - 1
        let first = firstRecentStep, mask = recentCapacity - 1
        // Each window's sums as the steps back reach its length, kept in scalars and made
        // vectors at the end (an element of a vector set by a variable index went through the
        // stack: two thirds of the time here).
        var counts4 = (0.0, 0.0, 0.0, 0.0), baselines4 = (0.0, 0.0, 0.0, 0.0)
        var excluded4 = (0, 0, 0, 0), steps4 = (0, 0, 0, 0)
        // (Through buffers: the rings are a class's, each element read through `self` otherwise.)
        counts.withUnsafeBufferPointer { counts in
            baselines.withUnsafeBufferPointer { baselines in
                excluded.withUnsafeBufferPointer { excluded in
                    var slot = step >= first ? recentSlot(step) : 0
                    @inline(__always) func reach(_ window: Int) -> (Double, Double, Int, Int) {
                        while steps < window, step >= first {
                            count += counts[slot]
                            baseline += Double(baselines[slot])
                            if excluded[slot] { excludedSteps += 1 }
                            steps += 1
                            step -= 1
                            slot = (slot - 1) & mask
                        }
                        return (count, baseline, excludedSteps, steps)
                    }
                    let windows = SeriesNoise.windows
                    let sums = (reach(windows[0]), reach(windows[1]), reach(windows[2]), reach(windows[3]))
                    counts4 = (sums.0.0, sums.1.0, sums.2.0, sums.3.0)
                    baselines4 = (sums.0.1, sums.1.1, sums.2.1, sums.3.1)
                    excluded4 = (sums.0.2, sums.1.2, sums.2.2, sums.3.2)
                    steps4 = (sums.0.3, sums.1.3, sums.2.3, sums.3.3)
                }
            }
        }
        let sums = WindowSums(
            count: SIMD4(counts4.0, counts4.1, counts4.2, counts4.3),
            baseline: SIMD4(baselines4.0, baselines4.1, baselines4.2, baselines4.3),
            excluded: SIMD4(excluded4.0, excluded4.1, excluded4.2, excluded4.3),
            steps: SIMD4(steps4.0, steps4.1, steps4.2, steps4.3))
        sumsMemo = (version, sums)
        return sums
    }
}

/// Sums of counts and baselines over the test windows ending at a series' last step, and how
/// many of their steps were inside an episode: entry `i` is window `SeriesNoise.windows[i]`.
struct WindowSums {
    var count = SIMD4<Double>()
    var baseline = SIMD4<Double>()
    var excluded = SIMD4<Int>()
    /// Steps the window holds: its length, or fewer at the start of a series.
    var steps = SIMD4<Int>()
}

extension SeriesHistory {
    /// Writes the history as `init(from:capacity:)` reads it back: the long ring as each step's
    /// normal count and mark (a byte for most minutes, a byte for up to 31 quiet ones), the
    /// short ring as it is.
    func write(to writer: inout SnapshotWriter) {
        writer.int(origin)
        writer.int(endStep)
        writer.double(normalCountsBeforeFirst)
        writer.unsigned(UInt64(normalStepsBeforeFirst))
        // Each step a varint: its count and mark (`count << 2 | normal << 1`, one byte for a
        // count under 32), or 1 and then both totals as they are (an excluded step: a mark of
        // -1; a count not whole), at most 10 + 3 + 8 bytes a step; and a run of `n` normal
        // steps without a request as one varint `n << 2 | 3` (a quiet site's night, minute by
        // minute, is most of a snapshot otherwise).
        normalCountsThrough.withUnsafeBufferPointer { totals in
            normalStepsThrough.withUnsafeBufferPointer { stepTotals in
                writer.append(atMost: 21 * length) { output in
                    var cursor = output
                    var counted = normalCountsBeforeFirst, steps = normalStepsBeforeFirst
                    var slot = length > 0 ? self.slot(firstStep) : 0
                    var quiet: UInt64 = 0
                    for _ in 0..<length {
                        let total = totals[slot], stepTotal = stepTotals[slot]
                        let count = total - counted, normal = stepTotal &- steps
                        if normal == 1, total == counted {
                            quiet += 1
                        } else {
                            if quiet > 0 {
                                SnapshotWriter.varint(quiet << 2 | 3, at: &cursor)
                                quiet = 0
                            }
                            // (A whole count, tested without `rounded`: a libm call where SSE4.1 is not assumed.)
                            if normal <= 1, count >= 0, count < 0x1p52, Double(UInt64(count)) == count, counted + count == total {
                                SnapshotWriter.varint(UInt64(count) << 2 | UInt64(normal) << 1, at: &cursor)
                            } else {
                                SnapshotWriter.varint(1, at: &cursor)
                                SnapshotWriter.varint(UInt64(normal), at: &cursor)
                                let bits = total.bitPattern
                                for index in 0..<8 {
                                    cursor.pointee = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(index)))
                                    cursor += 1
                                }
                            }
                        }
                        counted = total
                        steps = stepTotal
                        slot += 1
                        if slot == capacity { slot = 0 }
                    }
                    if quiet > 0 { SnapshotWriter.varint(quiet << 2 | 3, at: &cursor) }
                    return cursor - output
                }
            }
        }
        // Counts as Floats when each is one exactly (any bucket's, below 2^24), else as Doubles.
        let asFloats = counts.allSatisfy { Double(Float($0)) == $0 }
        writer.bool(asFloats)
        if asFloats { writer.floats(counts.map { Float($0) }) } else { writer.array(counts) { $0.double($1) } }
        writer.floats(baselines)
        writer.floats(rawBaselines)
        writer.array(excluded) { $0.bool($1) }
        noise.write(to: &writer)
    }

    /// The history `write(to:)` wrote, for rings of `capacity` and `recentCapacity` steps.
    convenience init(from reader: inout SnapshotReader, capacity: Int, recentCapacity: Int = SeriesHistory.recentCapacity) throws {
        let origin = try reader.int(), endStep = try reader.int()
        // Steps as stepping makes them (within Int32 of the engine's origin), whatever the bytes
        // say: nothing computed from them below may overflow.
        let bound = Int(Int32.max)
        try reader.check(origin > -bound && origin < bound && endStep >= origin && endStep < bound && endStep - origin < bound)
        self.init(capacity: capacity, startStep: origin, recentCapacity: recentCapacity)
        self.endStep = endStep
        endSlot = (endStep - origin) % capacity
        firstStep = max(origin, endStep - capacity)
        normalCountsBeforeFirst = try reader.double()
        let stepsBefore = try reader.unsigned()
        try reader.check(stepsBefore <= UInt64(UInt16.max))
        normalStepsBeforeFirst = UInt16(stepsBefore)
        let length = endStep - firstStep
        // Numbers as counting made them (finite, not negative), whatever the bytes say: a count
        // is made an Int, and nothing made of them may trap.
        let sane: (Double) -> Bool = { $0.isFinite && $0 >= 0 && $0 < 0x1p52 }
        try reader.check(sane(normalCountsBeforeFirst))
        // Read in the order they were written, from the first step's slot round the ring.
        let firstSlot = length > 0 ? slot(firstStep) : 0
        // Every slot is written once below (not zeroed first: the rings are most of the memory).
        var totals: [Double] = [], stepTotals: [UInt16] = []
        let countsBeforeFirst = normalCountsBeforeFirst, stepsBeforeFirst = normalStepsBeforeFirst
        try reader.withUnreadBytes { bytes, next in
            totals = try Array(unsafeUninitializedCapacity: length) { totals, totalsWritten in
                stepTotals = try Array(unsafeUninitializedCapacity: length) { stepTotals, stepTotalsWritten in
                    var counted = countsBeforeFirst, steps = stepsBeforeFirst
                    var slot = firstSlot, step = 0
                    while step < length {
                        let packed: UInt64
                        if next < bytes.count, bytes[next] < 0x80 {
                            packed = UInt64(bytes[next])
                            next += 1
                        } else {
                            packed = try SnapshotReader.varint(in: bytes, at: &next)
                        }
                        if packed & 3 == 3 {
                            // A quiet run of `n` steps.
                            let run = packed >> 2
                            guard run > 0, run <= UInt64(length - step) else { throw SnapshotReader.Damaged() }
                            for _ in 0..<Int(run) {
                                steps &+= 1
                                totals[slot] = counted
                                stepTotals[slot] = steps
                                slot += 1
                                if slot == capacity { slot = 0 }
                            }
                            step += Int(run)
                            continue
                        }
                        if packed & 1 == 0 {
                            counted += Double(packed >> 2)
                            steps &+= UInt16(packed >> 1 & 1)
                        } else {
                            let normal = try SnapshotReader.varint(in: bytes, at: &next)
                            guard normal <= UInt64(UInt16.max), bytes.count - next >= 8 else { throw SnapshotReader.Damaged() }
                            steps &+= UInt16(normal)
                            // Totals only grow between those written out: each such run is checked
                            // at its start and its end.
                            guard sane(counted) else { throw SnapshotReader.Damaged() }
                            var pattern: UInt64 = 0
                            for index in 0..<8 { pattern |= UInt64(bytes[next + index]) << (8 * UInt64(index)) }
                            next += 8
                            counted = Double(bitPattern: UInt64(littleEndian: pattern))
                            guard sane(counted) else { throw SnapshotReader.Damaged() }
                        }
                        totals[slot] = counted
                        stepTotals[slot] = steps
                        slot += 1
                        if slot == capacity { slot = 0 }
                        step += 1
                    }
                    guard sane(counted) else { throw SnapshotReader.Damaged() }
                    stepTotalsWritten = length
                }
                totalsWritten = length
            }
        }
        normalCountsThrough = totals
        normalStepsThrough = stepTotals
        let recent = min(recentCapacity, endStep - origin)
        counts =
            try reader.bool()
            ? try reader.floats(atMost: recent).map { Double($0) } : try reader.array(atMost: recent) { try $0.double() }
        baselines = try reader.floats(atMost: recent)
        rawBaselines = try reader.floats(atMost: recent)
        excluded = try reader.array(atMost: recent) { try $0.bool() }
        try reader.check([counts.count, baselines.count, rawBaselines.count, excluded.count].allSatisfy { $0 == recent })
        try reader.check(counts.allSatisfy(sane) && (baselines + rawBaselines).allSatisfy { sane(Double($0)) && $0 < 0x1p40 })
        noise = try SeriesNoise(from: &reader)
    }
}
