/// The recent past of one count series, step by step, with the baseline each step was given.
///
/// A ring of `capacity` steps, allocated as it fills (a site seen for a few minutes costs a
/// few bytes); steps inside an alert episode are marked so that baselines learn from normal
/// traffic only.
///
/// Counts are whole numbers (requests), so sums of them are exact in any order: the sums over
/// normal steps that the baselines take every step (7 days × 21 steps, 180 steps for the level)
/// are differences of running totals instead of loops.
struct SeriesHistory {
    private var counts: [Float] = []
    private var baselines: [Float] = []
    /// The baseline before the level adjustment (see `DetectionEngine`), to measure the level by.
    private var rawBaselines: [Float] = []
    private var excluded: [Bool] = []
    /// Running totals through each step: the counts of normal steps, and how many there were
    /// (32 bits, wrapping: a difference over the ring's steps is exact).
    private var normalCountsThrough: [Double] = []
    private var normalStepsThrough: [Int32] = []
    private let capacity: Int
    private let origin: Int
    /// The first step stored, and one past the last.
    private(set) var firstStep: Int
    private(set) var endStep: Int

    init(capacity: Int, startStep: Int) {
        self.capacity = capacity
        origin = startStep
        firstStep = startStep
        endStep = startStep
    }

    var length: Int { endStep - firstStep }

    /// Appends the next step.
    mutating func append(_ count: Double, baseline: Double, raw: Double? = nil) {
        let stored = Float(count)
        let before = endStep > firstStep ? (normalCountsThrough[slot(endStep - 1)], normalStepsThrough[slot(endStep - 1)]) : (0, Int32(0))
        if counts.count < capacity {
            counts.append(stored)
            baselines.append(Float(baseline))
            rawBaselines.append(Float(raw ?? baseline))
            excluded.append(false)
            normalCountsThrough.append(before.0 + Double(stored))
            normalStepsThrough.append(before.1 &+ 1)
        } else {
            let slot = self.slot(endStep)
            counts[slot] = stored
            baselines[slot] = Float(baseline)
            rawBaselines[slot] = Float(raw ?? baseline)
            excluded[slot] = false
            normalCountsThrough[slot] = before.0 + Double(stored)
            normalStepsThrough[slot] = before.1 &+ 1
        }
        endStep += 1
        if endStep - firstStep > capacity { firstStep = endStep - capacity }
    }

    /// Marks the last step as inside an episode.
    mutating func excludeLast() {
        guard endStep > firstStep else { return }
        let last = slot(endStep - 1)
        guard !excluded[last] else { return }
        excluded[last] = true
        normalCountsThrough[last] -= Double(counts[last])
        normalStepsThrough[last] &-= 1
    }

    private func slot(_ step: Int) -> Int { (step - origin) % capacity }

    func count(_ step: Int) -> Double { Double(counts[slot(step)]) }
    func baseline(_ step: Int) -> Double { Double(baselines[slot(step)]) }
    func isExcluded(_ step: Int) -> Bool { excluded[slot(step)] }

    /// Calls `body` with the slot of each step of `from..<to` (stored steps), in step order.
    ///
    /// The detectors sum hundreds of steps a step; the slot of each follows from the previous
    /// one with a compare, not a division.
    @inline(__always)
    private func forEachSlot(from: Int, to: Int, _ body: (Int) -> Void) {
        guard from < to else { return }
        var slot = self.slot(from)
        for _ in from..<to {
            body(slot)
            slot += 1
            if slot == capacity { slot = 0 }
        }
    }

    /// Sums of counts and of unadjusted baselines over normal steps in `range` (clipped to what
    /// is stored): how the series has run against its seasonal expectation lately.
    func level(over range: Range<Int>) -> (count: Double, expected: Double) {
        let from = max(range.lowerBound, firstStep), to = min(range.upperBound, endStep)
        var expected = 0.0
        forEachSlot(from: from, to: to) { slot in
            if !excluded[slot] { expected += Double(rawBaselines[slot]) }
        }
        return (normalSum(from: from, to: to).sum, expected)
    }

    /// Sums of counts and baselines over the last `steps` steps (fewer if fewer are stored),
    /// and how many of those steps were inside an episode.
    func recentSums(_ steps: Int) -> (count: Double, baseline: Double, steps: Int, excluded: Int) {
        var count = 0.0, baseline = 0.0, excludedSteps = 0
        let from = max(firstStep, endStep - steps)
        forEachSlot(from: from, to: endStep) { slot in
            count += Double(counts[slot])
            baseline += Double(baselines[slot])
            if excluded[slot] { excludedSteps += 1 }
        }
        return (count, baseline, endStep - from, excludedSteps)
    }

    /// Sum of the counts of the normal steps of `from..<to` (stored steps), and their number.
    private func normalSum(from: Int, to: Int) -> (sum: Double, used: Int) {
        guard from < to else { return (0, 0) }
        let last = slot(to - 1), first = slot(from)
        // The totals through the step before `from`: those through `from`, less its own.
        let firstCount = excluded[first] ? 0 : Double(counts[first])
        let firstUsed: Int32 = excluded[first] ? 0 : 1
        return (normalCountsThrough[last] - (normalCountsThrough[first] - firstCount),
                Int(normalStepsThrough[last] &- (normalStepsThrough[first] &- firstUsed)))
    }

    /// The expected count of `step` (not yet stored) from the past alone.
    ///
    /// With at least a day of history: for each of up to 7 earlier days, the mean of the steps
    /// within `halfWindow` of the same time of day (normal steps only), then the median of those
    /// daily means, so one unusual day does not move it. Otherwise the mean of the last
    /// `recentSteps` normal steps. Nil when there is too little history to say.
    func expected(at step: Int, stepsPerDay: Int, halfWindow: Int, recentSteps: Int, minimumSteps: Int) -> Double? {
        if stepsPerDay > 0, step - stepsPerDay - halfWindow >= firstStep {
            // At most 7 daily means, on the stack: this runs for every series at every step.
            let median = withUnsafeTemporaryAllocation(of: Double.self, capacity: 7) { means -> Double? in
                var found = 0
                for day in 1...7 {
                    let centre = step - day * stepsPerDay
                    guard centre - halfWindow >= firstStep else { break }
                    let (sum, used) = normalSum(from: centre - halfWindow, to: min(centre + halfWindow + 1, endStep))
                    guard used * 2 > halfWindow * 2 + 1 else { continue }
                    // Insertion into the sorted means.
                    var position = found
                    let mean = sum / Double(used)
                    while position > 0, means[position - 1] > mean {
                        means[position] = means[position - 1]
                        position -= 1
                    }
                    means[position] = mean
                    found += 1
                }
                guard found > 0 else { return nil }
                let middle = found / 2
                return found % 2 == 1 ? means[middle] : (means[middle - 1] + means[middle]) / 2
            }
            if let median { return median }
        }
        let (sum, used) = normalSum(from: max(firstStep, endStep - recentSteps), to: endStep)
        return used >= minimumSteps ? sum / Double(used) : nil
    }
}
