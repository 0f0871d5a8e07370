/// The recent past of one count series, step by step, with the baseline each step was given.
///
/// A ring of `capacity` steps, allocated as it fills (a site seen for a few minutes costs a
/// few bytes); steps inside an alert episode are marked so that baselines learn from normal
/// traffic only.
struct SeriesHistory {
    private var counts: [Float] = []
    private var baselines: [Float] = []
    /// The baseline before the level adjustment (see `DetectionEngine`), to measure the level by.
    private var rawBaselines: [Float] = []
    private var excluded: [Bool] = []
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
        if counts.count < capacity {
            counts.append(Float(count))
            baselines.append(Float(baseline))
            rawBaselines.append(Float(raw ?? baseline))
            excluded.append(false)
        } else {
            let slot = self.slot(endStep)
            counts[slot] = Float(count)
            baselines[slot] = Float(baseline)
            rawBaselines[slot] = Float(raw ?? baseline)
            excluded[slot] = false
        }
        endStep += 1
        if endStep - firstStep > capacity { firstStep = endStep - capacity }
    }

    /// Marks the last step as inside an episode.
    mutating func excludeLast() {
        guard endStep > firstStep else { return }
        excluded[slot(endStep - 1)] = true
    }

    private func slot(_ step: Int) -> Int { (step - origin) % capacity }

    func count(_ step: Int) -> Double { Double(counts[slot(step)]) }
    func baseline(_ step: Int) -> Double { Double(baselines[slot(step)]) }
    func isExcluded(_ step: Int) -> Bool { excluded[slot(step)] }

    /// Sums of counts and of unadjusted baselines over normal steps in `range` (clipped to what
    /// is stored): how the series has run against its seasonal expectation lately.
    func level(over range: Range<Int>) -> (count: Double, expected: Double) {
        var count = 0.0, expected = 0.0
        let from = max(range.lowerBound, firstStep), to = min(range.upperBound, endStep)
        guard from < to else { return (0, 0) }
        for step in from..<to where !isExcluded(step) {
            count += self.count(step)
            expected += Double(rawBaselines[slot(step)])
        }
        return (count, expected)
    }

    /// Sums of counts and baselines over the last `steps` steps (fewer if fewer are stored),
    /// and how many of those steps were inside an episode.
    func recentSums(_ steps: Int) -> (count: Double, baseline: Double, steps: Int, excluded: Int) {
        var count = 0.0, baseline = 0.0, excludedSteps = 0
        let from = max(firstStep, endStep - steps)
        for step in from..<endStep {
            count += self.count(step)
            baseline += self.baseline(step)
            if isExcluded(step) { excludedSteps += 1 }
        }
        return (count, baseline, endStep - from, excludedSteps)
    }

    /// The expected count of `step` (not yet stored) from the past alone.
    ///
    /// With at least a day of history: for each of up to 7 earlier days, the mean of the steps
    /// within `halfWindow` of the same time of day (normal steps only), then the median of those
    /// daily means, so one unusual day does not move it. Otherwise the mean of the last
    /// `recentSteps` normal steps. Nil when there is too little history to say.
    func expected(at step: Int, stepsPerDay: Int, halfWindow: Int, recentSteps: Int, minimumSteps: Int) -> Double? {
        if stepsPerDay > 0, step - stepsPerDay - halfWindow >= firstStep {
            var dailyMeans: [Double] = []
            for day in 1...7 {
                let centre = step - day * stepsPerDay
                guard centre - halfWindow >= firstStep else { break }
                var sum = 0.0, used = 0
                for sample in (centre - halfWindow)...(centre + halfWindow) where sample < endStep && !isExcluded(sample) {
                    sum += count(sample)
                    used += 1
                }
                if used * 2 > halfWindow * 2 + 1 { dailyMeans.append(sum / Double(used)) }
            }
            if !dailyMeans.isEmpty {
                dailyMeans.sort()
                let middle = dailyMeans.count / 2
                return dailyMeans.count % 2 == 1 ? dailyMeans[middle] : (dailyMeans[middle - 1] + dailyMeans[middle]) / 2
            }
        }
        var sum = 0.0, used = 0
        var sample = endStep - 1
        while sample >= firstStep, sample >= endStep - recentSteps {
            if !isExcluded(sample) {
                sum += count(sample)
                used += 1
            }
            sample -= 1
        }
        return used >= minimumSteps ? sum / Double(used) : nil
    }
}
