import Testing
import LogSurgeCore
@testable import LogSurgeDetect

/// `SeriesHistory` keeps running totals and walks its ring without divisions; these checks hold
/// it to the plain reading of its definitions (loops over the steps kept), over many wraps of a
/// small ring, with steps excluded as episodes would.
@Suite("SeriesHistory") struct SeriesHistoryTests {
    @Test("a forged snapshot's steps far from each other are refused, not an overflow")
    func forgedStepsAreRefused() {
        for (origin, end) in [(Int.min, 0), (0, Int.max), (Int.min + 1, Int.max), (-(1 << 40), 5)] {
            var writer = SnapshotWriter()
            writer.int(origin)
            writer.int(end)
            writer.double(0)
            writer.unsigned(0)
            var reader = SnapshotReader(writer.bytes + [UInt8](repeating: 2, count: 64))
            #expect(throws: (any Error).self) { try SeriesHistory(from: &reader, capacity: 37) }
        }
    }

    /// What was appended, every step, and which steps were excluded: the reference.
    struct Model {
        var counts: [Float] = [], baselines: [Float] = [], raw: [Float] = [], excluded: [Bool] = []
        let capacity: Int
        var end: Int { counts.count }
        var first: Int { max(0, end - capacity) }

        func level(over range: Range<Int>) -> (count: Double, expected: Double) {
            var count = 0.0, expected = 0.0
            for step in max(range.lowerBound, first)..<max(max(range.lowerBound, first), min(range.upperBound, end)) where !excluded[step] {
                count += Double(counts[step])
                expected += Double(raw[step])
            }
            return (count, expected)
        }

        func recentSums(_ steps: Int) -> (count: Double, baseline: Double, steps: Int, excluded: Int) {
            var count = 0.0, baseline = 0.0, excludedSteps = 0
            let from = max(first, end - steps)
            for step in from..<end {
                count += Double(counts[step])
                baseline += Double(baselines[step])
                if excluded[step] { excludedSteps += 1 }
            }
            return (count, baseline, end - from, excludedSteps)
        }

        func expected(at step: Int, stepsPerDay: Int, halfWindow: Int, recentSteps: Int, minimumSteps: Int) -> Double? {
            if step - stepsPerDay - halfWindow >= first {
                var means: [Double] = []
                for day in 1...7 {
                    let centre = step - day * stepsPerDay
                    guard centre - halfWindow >= first else { break }
                    var sum = 0.0, used = 0
                    for sample in (centre - halfWindow)...(centre + halfWindow) where sample < end && !excluded[sample] {
                        sum += Double(counts[sample])
                        used += 1
                    }
                    if used * 2 > halfWindow * 2 + 1 { means.append(sum / Double(used)) }
                }
                if !means.isEmpty {
                    means.sort()
                    let middle = means.count / 2
                    return means.count % 2 == 1 ? means[middle] : (means[middle - 1] + means[middle]) / 2
                }
            }
            var sum = 0.0, used = 0
            for sample in max(first, end - recentSteps)..<end where !excluded[sample] {
                sum += Double(counts[sample])
                used += 1
            }
            return used >= minimumSteps ? sum / Double(used) : nil
        }
    }

    /// A ring smaller than the recent values kept, and one larger (each wraps on its own), with
    /// the level over the last 240 steps but 60 as the detectors take it.
    @Test(arguments: [
        (seed: UInt64(0), capacity: 37, stepsPerDay: 5, steps: 400),
        (seed: 1, capacity: 37, stepsPerDay: 5, steps: 400),
        (seed: 2, capacity: 600, stepsPerDay: 80, steps: 1_500),
    ])
    func sumsAndBaselinesMatchLoopsOverTheStepsKept(seed: UInt64, capacity: Int, stepsPerDay: Int, steps: Int) {
        var random = SeededGenerator(seed: seed)
        let history = SeriesHistory(capacity: capacity, startStep: 1_000)
        var model = Model(capacity: capacity)
        for _ in 0..<steps {
            let step = 1_000 + model.end
            #expect(history.firstStep == 1_000 + model.first)
            #expect(history.endStep == step)
            let expected = history.expected(at: step, stepsPerDay: stepsPerDay, halfWindow: 2, recentSteps: 6, minimumSteps: 3)
            #expect(expected == model.expected(at: model.end, stepsPerDay: stepsPerDay, halfWindow: 2, recentSteps: 6, minimumSteps: 3))
            let level = history.level(over: (step - 240)..<(step - 60))
            let reference = model.level(over: (model.end - 240)..<(model.end - 60))
            #expect(level.count == reference.count && level.expected == reference.expected)
            if model.end > 100 {
                for back in [0, 30, 89] {
                    #expect(history.count(step - 1 - back) == Double(model.counts[model.end - 1 - back]))
                    #expect(history.baseline(step - 1 - back) == Double(model.baselines[model.end - 1 - back]))
                    #expect(history.isExcluded(step - 1 - back) == model.excluded[model.end - 1 - back])
                }
            }
            for window in [1, 3, 10, 60] {
                let sums = history.recentSums(window), referenceSums = model.recentSums(window)
                #expect(
                    sums.count == referenceSums.count && sums.baseline == referenceSums.baseline
                        && sums.steps == referenceSums.steps && sums.excluded == referenceSums.excluded)
            }
            // Whole counts (requests), now and then a quiet run of zeros or a burst.
            let count = Double([0, 3, 40, 2_000][Int.random(in: 0..<4, using: &random)] + Int.random(in: 0...9, using: &random))
            let baseline = Double.random(in: 0...500, using: &random), raw = Double.random(in: 0...500, using: &random)
            history.append(count, baseline: baseline, raw: raw)
            model.counts.append(Float(count))
            model.baselines.append(Float(baseline))
            model.raw.append(Float(raw))
            model.excluded.append(false)
            // Inside an episode now and then; excluding twice is excluding once.
            if Int.random(in: 0..<5, using: &random) == 0 {
                history.excludeLast()
                if Bool.random(using: &random) { history.excludeLast() }
                model.excluded[model.end - 1] = true
            }
        }
    }
}
