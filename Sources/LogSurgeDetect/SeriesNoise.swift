#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one count series has shown of its own noise, learnt as it goes: how far its counts
/// stray from their baseline (its dispersion, window by window, above and below), and how its
/// week differs from a median day (its weekly profile).
///
/// Real traffic is far burstier than Poisson noise: a load balancer whose counts have a mean
/// of 62 and a standard deviation of 57, ×3 jumps for a step or two, Saturday nights four times
/// a Tuesday's. The detectors judge a window's count against a negative binomial with the
/// baseline as mean and the dispersion ψ this series has shown (variance = mean + ψ·mean²),
/// where they used Poisson noise (ψ = 0), and against a baseline that knows the week.
///
/// - Dispersion: for each test window of `windows` steps, ψ is estimated from the windows of
///   normal steps (no episode in them) that ended above the baseline (for surges) and below it
///   (for drops), as ((count − baseline)² − baseline) / baseline², the moment estimate of ψ
///   (not cut at 0: for Poisson counts its mean is 0, where a cut mean would not be), and used
///   as at least 0. It is a mean that starts from `priorSteps` steps at `prior` and becomes
///   an exponentially weighted mean with a half-life of `halfLifeDays` days of steps. Each
///   term is held below 4ψ + max(0.05, 1 / baseline), so that one burst moves ψ a little while a series that
///   bursts often raises it step by step. Judging a window's sum by the window's own ψ
///   captures what a per-step ψ cannot: level shifts that last several steps.
/// - Weekly profile: for each hour of the week (168 of them), the exponentially weighted mean
///   of log((count + 1) / (daily baseline + 1)) over every step of that hour (episodes
///   included, each term held within ±2: a week of a surge raises next week's baseline by a
///   little, where leaving episodes out let a weekly peak raise an alert every week), with a
///   half-life of two weeks of that hour's steps; the baseline is multiplied by its
///   exponential once the hour has been seen three times.
///
/// - Record: the largest excess over the baseline of a normal step on each of the last eight
///   days. The negative binomial is a multiplicative model (a burst is a multiple of the
///   baseline); real bursts are also additive (a batch job's few hundred requests, whatever
///   the hour), and a series whose quiet hours jump ×8 learns a ψ under which a ×7 step at
///   its busiest hour, three times as many requests as it ever added, is ordinary. A step
///   whose excess is beyond `recordFactor` times the week's record is raised as well: under
///   exponential tails the chance of that in n steps of history is about n^-1.5 (1e-5 a step
///   over a week of 5-minute steps); real noise has heavier tails (lognormal bursts beat their
///   record more often), so the step must also be unlikely under the learnt noise, if far less
///   so than a surge must (`recordTailFactor`), and the week must hold thousands of steps (steps
///   of 5 minutes or less).
///
/// Costs about 3 KB a series (most of it the weekly profile) and a few operations a step.
struct SeriesNoise {
    /// The test windows, in steps: surges over each, drops over the last three.
    static let windows = [1, 3, 10, 60]
    static let dropWindows = 1..<4
    /// What ψ starts from, as this many steps of it.
    static let prior = 0.05
    static let priorSteps = 60.0
    /// The half-life of the dispersion's weights, in days of steps.
    static let halfLifeDays = 3.0
    /// How far beyond the week's record excess a step must go to be unprecedented.
    static let recordFactor = 1.5
    /// How unlikely under the noise such a step must still be, as a multiple of the significance
    /// (1e-3 at the default): a record beaten by the heavy tail of ordinary noise is not raised.
    static let recordTailFactor = 1e4
    /// Days of records kept: the week before today, and today.
    static let recordDays = 8

    /// ψ of each window above the baseline, and below it.
    ///
    /// (Fixed-size vectors, not arrays: a series' noise is read at every step of every series,
    /// and arrays made each read of it a handful of reference counts.)
    private(set) var above = SIMD4<Double>(repeating: SeriesNoise.prior)
    private(set) var below = SIMD4<Double>(repeating: SeriesNoise.prior)
    /// Windows learnt from, above and below (capped; only the start of learning reads them).
    private(set) var aboveSeen = SIMD4<UInt32>()
    private(set) var belowSeen = SIMD4<UInt32>()
    /// The weekly profile, by hour of the week (hours since 1970 modulo 168): the mean and the
    /// steps learnt from, allocated when first learnt from.
    private var profile: [ProfileHour] = []
    /// The largest excess of a normal step by day (`day` modulo `recordDays`), and the day of
    /// each (-1: none).
    private var records = SIMD8<Double>()
    private var recordDay = SIMD8<Int>(repeating: -1)

    private struct ProfileHour {
        var mean: Float = 0
        var seen: UInt16 = 0
        /// exp(mean), the factor (read at every step of every series, for each of 7 days).
        var factor = 1.0
    }

    init() {}

    /// ψ of window `index` (of `windows`), above the baseline or below it.
    func dispersion(window index: Int, above isAbove: Bool) -> Double {
        max(0, isAbove ? above[index] : below[index])
    }

    /// Learns from a window of normal steps that just ended: `count` requests against
    /// `baseline` expected. `stepsPerDay` sets the half-life (0: a day of minutes).
    mutating func learn(window index: Int, count: Double, baseline: Double, stepsPerDay: Int) {
        guard baseline > 0, count != baseline else { return }
        let excess = count - baseline
        let term = (excess * excess - baseline) / (baseline * baseline)
        let weight = 1 - exp2(-1 / (Self.halfLifeDays * Double(stepsPerDay > 0 ? stepsPerDay : 1440)))
        if excess > 0 {
            Self.update(&above[index], seen: &aboveSeen[index], with: term, baseline: baseline, weight: weight)
        } else {
            Self.update(&below[index], seen: &belowSeen[index], with: term, baseline: baseline, weight: weight)
        }
    }

    private static func update(_ dispersion: inout Double, seen: inout UInt32, with term: Double, baseline: Double, weight: Double) {
        // Held at 4ψ plus the Poisson part's own spread (1 / baseline, 0.05 at least): at a few
        // requests a step a single term strays far even under the true ψ, and held at 4ψ + 0.05
        // the mean came out a third of it (0.1 for a generated 0.3 at 3 requests a minute).
        let held = min(term, 4 * max(0, dispersion) + max(0.05, 1.0 / baseline))
        // A mean with `priorSteps` steps at the prior, until the exponential weight is larger.
        let rate = max(weight, 1 / (priorSteps + Double(seen) + 1))
        dispersion += rate * (held - dispersion)
        if seen < UInt32.max { seen += 1 }
    }

    // MARK: - Record

    /// Learns a normal step of day `day` (steps since the series' origin over steps per day)
    /// that was `excess` above (or below) its baseline.
    mutating func learnExcess(_ excess: Double, day: Int) {
        let slot = day % Self.recordDays
        if recordDay[slot] != day {
            recordDay[slot] = day
            records[slot] = excess
        } else {
            records[slot] = max(records[slot], excess)
        }
    }

    /// The largest excess of a normal step over the week before `day` and `day` itself; nil
    /// unless a day before `day` has been learnt.
    func excessRecord(day: Int) -> Double? {
        var record: Double?
        var earlier = false
        for slot in 0..<Self.recordDays where recordDay[slot] >= day - (Self.recordDays - 1) && recordDay[slot] <= day {
            record = max(record ?? records[slot], records[slot])
            earlier = earlier || recordDay[slot] < day
        }
        return earlier ? record : nil
    }

    // MARK: - Weekly profile

    /// Hours since 1970 modulo 168 (weeks start on Thursday at 00:00 UTC: only the period matters).
    static func hourOfWeek(_ minute: Int32) -> Int {
        let hours = Int(minute) >= 0 ? Int(minute) / 60 : (Int(minute) - 59) / 60
        return ((hours % 168) + 168) % 168
    }

    /// The hour of the week `days` (1 to 7) days before `hour` (`hourOfWeek`): one week added at
    /// most, no division (this runs for every day back of every series at every step).
    @inline(__always)
    static func hourOfWeek(_ hour: Int, daysBefore days: Int) -> Int {
        let earlier = hour - 24 * days
        return earlier < 0 ? earlier + 168 : earlier
    }

    /// The factor of the hour of week of `minute`: 1 until that hour has been seen in three
    /// weeks (its steps of three weeks, for steps under an hour).
    func weeklyFactor(at minute: Int32, stepMinutes: Int) -> Double {
        weeklyFactor(hour: Self.hourOfWeek(minute), stepMinutes: stepMinutes)
    }

    /// The factor of `hour` of the week (`hourOfWeek`).
    func weeklyFactor(hour: Int, stepMinutes: Int) -> Double {
        weeklyFactor(hour: hour, needed: Self.stepsNeeded(stepMinutes: stepMinutes))
    }

    /// The factor of `hour` of the week once `needed` (`stepsNeeded`) of its steps were seen.
    @inline(__always)
    func weeklyFactor(hour: Int, needed: Int) -> Double {
        guard !profile.isEmpty, Int(profile[hour].seen) >= needed else { return 1 }
        return profile[hour].factor
    }

    /// Steps of an hour of the week seen before its factor counts: those of three weeks.
    static func stepsNeeded(stepMinutes: Int) -> Int { 3 * max(1, 60 / max(1, stepMinutes)) }

    /// Learns the step at `minute`: `count` against the daily baseline `daily`.
    mutating func learnWeek(at minute: Int32, count: Double, daily: Double, stepMinutes: Int) {
        if profile.isEmpty { profile = [ProfileHour](repeating: ProfileHour(), count: 168) }
        let hour = Self.hourOfWeek(minute)
        let term = Float(min(2, max(-2, log((count + 1) / (daily + 1)))))
        let stepsPerHour = Double(max(1, 60 / max(1, stepMinutes)))
        let weight = Float(1 - exp2(-1 / (2 * stepsPerHour)))
        if profile[hour].seen == 0 {
            profile[hour].mean = term
        } else {
            profile[hour].mean += max(weight, 1 / Float(Int(profile[hour].seen) + 1)) * (term - profile[hour].mean)
        }
        if profile[hour].seen < UInt16.max { profile[hour].seen += 1 }
        profile[hour].factor = exp(Double(profile[hour].mean))
    }
}

extension SeriesNoise {
    func write(to writer: inout SnapshotWriter) {
        for values in [above, below] { writer.array(Self.elements(values)) { $0.double($1) } }
        for seen in [aboveSeen, belowSeen] { writer.array(Self.elements(seen)) { $0.unsigned(UInt64($1)) } }
        writer.floats(profile.map(\.mean))
        writer.array(profile) { $0.unsigned(UInt64($1.seen)) }
        writer.array(Self.elements(records)) { $0.double($1) }
        writer.array(Self.elements(recordDay)) { $0.int($1) }
    }

    init(from reader: inout SnapshotReader) throws {
        let count = Self.windows.count
        let sane: (Double) -> Bool = { $0.isFinite && abs($0) < 1e12 }
        let above = try reader.array(atMost: count) { try $0.double() }
        let below = try reader.array(atMost: count) { try $0.double() }
        let aboveSeen = try reader.array(atMost: count) { try UInt32(exactly: $0.unsigned()) ?? UInt32.max }
        let belowSeen = try reader.array(atMost: count) { try UInt32(exactly: $0.unsigned()) ?? UInt32.max }
        try reader.check([above.count, below.count, aboveSeen.count, belowSeen.count].allSatisfy { $0 == count })
        try reader.check((above + below).allSatisfy(sane))
        self.above = SIMD4(above)
        self.below = SIMD4(below)
        self.aboveSeen = SIMD4(aboveSeen)
        self.belowSeen = SIMD4(belowSeen)
        let means = try reader.floats(atMost: 168)
        let seen = try reader.array(atMost: 168) { try UInt16(exactly: $0.unsigned()) ?? UInt16.max }
        try reader.check(means.count == seen.count && (means.isEmpty || means.count == 168))
        try reader.check(means.allSatisfy { $0.isFinite && abs($0) <= 2 })
        profile = zip(means, seen).map { ProfileHour(mean: $0, seen: $1, factor: exp(Double($0))) }
        let records = try reader.array(atMost: Self.recordDays) { try $0.double() }
        let recordDay = try reader.array(atMost: Self.recordDays) { try $0.int() }
        try reader.check(records.count == Self.recordDays && recordDay.count == Self.recordDays)
        try reader.check(records.allSatisfy(sane) && recordDay.allSatisfy { $0 >= -1 && $0 < Int(Int32.max) })
        self.records = SIMD8(records)
        self.recordDay = SIMD8(recordDay)
    }

    /// A vector's elements in order, as the snapshot keeps them.
    private static func elements<Vector: SIMD>(_ vector: Vector) -> [Vector.Scalar] { vector.indices.map { vector[$0] } }
}
