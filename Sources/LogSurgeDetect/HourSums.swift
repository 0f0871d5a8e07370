import LogSurgeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Requests by hour of the day (UTC), each hour's sum decayed by day with a half-life of
/// `halfLifeDays`: a site's, and each country's of that site under `--watch-country all`.
///
/// A country checked by `--watch-country all` has no history of its own (up to 100 KB a
/// series where there may be 25,000 of them): its baseline is its share of the site's
/// baseline, the share being the country's sum at that hour over the site's (`share`). 24
/// numbers and their days, about 200 bytes, whatever the span; decayed lazily (a sum keeps
/// the day it was last brought up to), so a country without requests costs nothing a step.
struct HourSums: Equatable {
    static let halfLifeDays = 3.0
    /// The weight of a day `k` days back, for k below 64 (beyond: 0).
    private static let weights: [Float] = (0..<64).map { Float(exp2(-Double($0) / halfLifeDays)) }

    private var sums: [Float] = []
    /// The day each hour's sum was last brought up to.
    private var days: [Int32] = []
    /// The sum over all hours, with its day.
    private var total: Float = 0
    private var totalDay: Int32 = 0

    init() {}

    private static func weight(from day: Int32, to now: Int32) -> Float {
        let back = Int(now) - Int(day)
        return back <= 0 ? 1 : back < weights.count ? weights[back] : 0
    }

    /// The hour of the day and the day of `minute` (minutes since 1970, UTC).
    static func hourAndDay(of minute: Int32) -> (hour: Int, day: Int32) {
        let day = UTCMinute.floorDiv(Int(minute), 1440)
        return ((Int(minute) - day * 1440) / 60, Int32(day))
    }

    /// Adds `value` requests at `minute`.
    mutating func add(_ value: Double, at minute: Int32) {
        guard value > 0 else { return }
        if sums.isEmpty {
            sums = [Float](repeating: 0, count: 24)
            days = [Int32](repeating: 0, count: 24)
        }
        let (hour, day) = Self.hourAndDay(of: minute)
        sums[hour] = sums[hour] * Self.weight(from: days[hour], to: day) + Float(value)
        days[hour] = day
        total = total * Self.weight(from: totalDay, to: day) + Float(value)
        totalDay = day
    }

    /// The decayed sum of `hour` as of `day`.
    private func sum(hour: Int, day: Int32) -> Double {
        sums.isEmpty ? 0 : Double(sums[hour] * Self.weight(from: days[hour], to: day))
    }

    /// The decayed sum of every hour as of `day`.
    private func sum(day: Int32) -> Double { Double(total * Self.weight(from: totalDay, to: day)) }

    /// The share of these (the site's) requests that `country` sent at `minute`: each hour's
    /// share (its sums, drawn toward the share of it and its two neighbours, and that toward
    /// the share over every hour, by a quarter of an average hour's requests: an hour seen on
    /// one day or none leans on those around it), interpolated between the centres of the
    /// hours (a country's share climbs through its morning). Nil before the site's first
    /// learnt request.
    func share(of country: HourSums, at minute: Int32) -> Double? {
        let (hour, day) = Self.hourAndDay(of: minute)
        let site = sum(day: day)
        guard site > 0 else { return nil }
        let overall = country.sum(day: day) / site
        let weight = site / 96
        func share(_ hour: Int) -> Double {
            // (Summed in place: this runs for every country stepped, every minute.)
            var countryAround = 0.0, siteAround = 0.0
            for offset in 23...25 {  // the hour before, this one, the one after
                let neighbour = (hour + offset) % 24
                countryAround += country.sum(hour: neighbour, day: day)
                siteAround += sum(hour: neighbour, day: day)
            }
            let nearby = (countryAround + weight * overall) / (siteAround + weight)
            return (country.sum(hour: hour, day: day) + weight * nearby) / (sum(hour: hour, day: day) + weight)
        }
        // Where `minute` lies from its hour's centre, in hours (−0.5 to 0.5).
        let offset = (Double((Int(minute) - Int(day) * 1440) % 60) + 0.5) / 60 - 0.5
        let neighbour = offset < 0 ? (hour + 23) % 24 : (hour + 1) % 24
        return min(1, (1 - abs(offset)) * share(hour) + abs(offset) * share(neighbour))
    }
}

extension HourSums {
    func write(to writer: inout SnapshotWriter) {
        writer.floats(sums)
        writer.array(days) { $0.int(Int($1)) }
        writer.floats([total])
        writer.int(Int(totalDay))
    }

    init(from reader: inout SnapshotReader) throws {
        sums = try reader.floats(atMost: 24)
        let bound = Int(Int32.max)
        days = try reader.array(atMost: 24) { reader in
            let day = try reader.int()
            try reader.check(day > -bound && day < bound)
            return Int32(day)
        }
        let totals = try reader.floats(atMost: 1)
        let day = try reader.int()
        try reader.check(totals.count == 1 && day > -bound && day < bound)
        total = totals[0]
        totalDay = Int32(day)
        try reader.check((sums.isEmpty || sums.count == 24) && days.count == sums.count)
        try reader.check((sums + [total]).allSatisfy { $0.isFinite && $0 >= 0 && $0 < 0x1p60 })
    }
}
